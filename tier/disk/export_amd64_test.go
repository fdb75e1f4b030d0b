package disk

var haveFold512Default = haveFold512
