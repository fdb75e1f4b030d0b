// Package all registers every store backend of this module with
// objstore's URL mux, so that tierfs.Open understands s3://, oss://,
// file:// and mem:// URLs:
//
//	import _ "github.com/tierfs/tierfs/all"
//
// It is a convenience. A program that reads one kind of store imports just
// that backend, as database/sql programs import one driver, and links
// nothing of the others (the root package registers only file:// and
// mem://, which need nothing beyond the standard library):
//
//	import _ "github.com/tierfs/tierfs/objstore/s3store" // s3:// (aws-sdk-go-v2)
//	import _ "github.com/tierfs/tierfs/objstore/ossstore" // oss:// (Alibaba OSS SDK)
package all

import (
	_ "github.com/tierfs/tierfs/objstore/filestore" // file://
	_ "github.com/tierfs/tierfs/objstore/memstore"  // mem://
	_ "github.com/tierfs/tierfs/objstore/ossstore"  // oss://
	_ "github.com/tierfs/tierfs/objstore/s3store"   // s3://
)
