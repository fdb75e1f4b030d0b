//go:build !amd64

package disk

var haveFold512 = false

const haveFold512Default = false
