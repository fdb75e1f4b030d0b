// Package consistency holds the policies that decide how far tierfs trusts
// what it has cached of a store's metadata, and whether it may write: the
// five situations users meet map onto three policies.
//
//	static dataset, read-only            ReadOnly() (the default)
//	read-only, changes on a schedule     ReadOnly() + FS.Warmup on the schedule
//	read-only, changes on events         TTL(attr, negative)
//	read and write in different dirs     two FS values, ReadOnly and ReadWrite
//	read and write in one dir            ReadWrite(attr)
//
// In every policy an open file stays pinned to the object version it saw
// at open: a later change never mixes bytes of two versions into one read,
// and an uncached block of a version the store no longer has fails with
// objstore.ErrChanged.
//
// A [Policy] only decides; it does no I/O. [Meta] is the metadata cache
// the FS keeps under a policy (names and, under ReadOnly and TTL, whole
// directory listings), with an injectable clock, so the rules are tested
// without sleeping. A [Journal] given to [Meta.SetJournal] hears of every
// change, so the FS can keep the cache beside its disk tier and replay it
// after a restart ([Meta.Apply]) with the times entries were learned.
package consistency
