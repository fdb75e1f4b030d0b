package s3store

// growEvery is how many parts of one size an upload of unknown size
// sends before it doubles the part size.
const growEvery = 900

// MaxObjectSize is S3's largest object: 5 TiB.
const MaxObjectSize = 5 << 40

// PartSizeOf returns the size of part num (counted from 1) of an upload
// whose body has an unknown size and whose first part has base bytes:
// base for the first 900 parts, doubling every 900 parts after, capped at
// MaxPartSize. With any base in [MinPartSize, MaxPartSize], MaxParts
// parts then hold at least MaxObjectSize, while a body of a few GiB keeps
// parts of base bytes (8 MiB by default: 7 GiB before the first
// doubling). A Put whose size is known (PutOptions.Size) uses equal parts
// instead. A num below 1 is treated as 1.
func PartSizeOf(base int64, num int32) int64 {
	if num < 1 {
		num = 1
	}
	shift := (int64(num) - 1) / growEvery
	if base <= 0 {
		return 0
	}
	if shift >= 62 || base > MaxPartSize>>shift {
		return MaxPartSize
	}
	return base << shift
}
