//go:build race

package tierfs_test

const raceEnabled = true
