// Package filestore is an [objstore.Store] over a local directory: keys
// are slash-separated paths of files under it.
//
//	s, err := filestore.New("/data/imagenet", nil)
//	defer s.Close()
//
// # URL form
//
//	file:///absolute/dir
//	file://localhost/absolute/dir
//
// Importing filestore registers the "file" scheme with
// objstore.DefaultURLMux. The path must be absolute and clean; relative
// paths cannot be written as URLs (file:rel is refused), but [New] accepts
// a relative dir and makes it absolute against the working directory at
// the call. The directory must exist. No query parameters are known.
//
// # Options
//
// [Options] sets the modes of the files and directories Put creates (0644
// and 0755 before the umask by default: this is the user's data
// directory, not a private cache) and whether Put syncs them.
//
// # Keys and the root
//
// Every access goes through an os.Root opened on the directory, so no key,
// symbolic link or ".." can reach a file outside it: keys are checked with
// objstore.ValidKey before any I/O, and a symbolic link that leads out of
// the directory (or is absolute) fails with an error wrapping
// fs.ErrPermission. Links that stay inside are followed, by reads and by
// List. Directories are implicit: Put creates the parents of a key, and
// Delete removes the directories its last key leaves empty, as S3
// prefixes vanish with their last key. Unlike S3, a path cannot be a file
// and a directory at once: Put of "a/b" while "a" is an object, or of "a"
// while "a/" holds keys, fails with an error wrapping fs.ErrExist.
// Directories, devices, sockets and pipes are not objects (Stat says
// fs.ErrNotExist). Key elements beginning with [TempPrefix] are reserved
// and invalid.
//
// # Versions
//
// A file's Version.ETag is a hex hash of its size, modification time in
// nanoseconds, device and inode. Put writes a temporary file, sets its
// modification time to a nanosecond unique among the Store's Puts, and
// renames it over the key, so the version changes on every Put, even of
// identical bytes within one tick of the kernel's clock, and even if the
// file system reuses the inode of a replaced file. Files changed by other
// programs get a new version when their size, time or inode changes; a
// program that rewrites a file in place, keeping its size, within one
// tick of a coarse file system clock is not detected.
//
// A read checks the version on the open file handle, and the Reader keeps
// that handle: once open it reads the bytes of its version to the end,
// even if the file is replaced meanwhile (a renamed-over file lives until
// its last handle closes). Only a new open (a Reader opened later, pinned
// to the old version) fails with objstore.ErrChanged. Object.Checksums is
// nil: computing one would read the whole file.
//
// # Put
//
// Put is atomic: readers see the old file or the new one, never a part.
// The body goes to a file named TempPrefix plus a random suffix in the
// key's directory, is synced (unless Options.NoSync), and is renamed over
// the key; the directory is synced after the rename. On any error,
// including a body whose length differs from PutOptions.Size, the
// temporary file is removed and nothing is stored. List never shows
// temporary files. A process that dies during a Put leaves its temporary
// file behind; filestore does not sweep them, since another process may be
// writing one at the same moment: remove stale ones, for example with
// find dir -name '.tierfs-tmp-*' -mmin +60 -delete.
//
// The body streams to the temporary file as it is read, so an
// objstore.Writer over a Store holds no more than its write in memory;
// aborting it removes the temporary file. A conditional Put
// (PutOptions.IfMatch, IfNotExist) checks the key's version and renames
// under one lock of the Store: of two conditional writers through one
// Store, exactly one wins, and the loser fails with objstore.ErrChanged.
// The check is not atomic against writers in other processes or through
// another Store on the same directory. ContentType and Metadata are not
// kept.
//
// # Listing
//
// List returns keys in the byte-wise lexical order of full keys, as S3
// does, MaxKeys (default 1000) entries a page, common prefixes counting
// toward it; the continuation token is the last key or common prefix of
// the page. With Delimiter "/" it reads only the directory of the prefix:
// subdirectories become common prefixes without being opened (so a
// directory left empty by another program shows up as a prefix). With no
// delimiter it walks the tree depth first, ordering each directory's
// entries as the keys they hold sort ("a-b" and "a.txt" before "a/…"), so
// pages come in true key order. A page reads the names of each directory
// it passes through, but stats only the entries after the token, up to
// the end of the page. Other delimiters walk the tree and group keys as S3
// does. Names that are not valid keys (invalid UTF-8, too long) are
// skipped, as are symbolic links that lead out of the directory; a link
// back to a directory being walked is not followed twice.
//
// # Counting
//
// [Store.RequestStats] counts the operations served the way an S3 server
// would count the requests behind them (a Head per Stat, a Get per body
// opened, a List, Put or Delete per call), with the bytes read from
// bodies and the bytes stored, so that a test or a metric can treat a
// local directory like a remote store.
//
// # Errors
//
// Errors are *objstore.Error values whose messages read
// "objstore: <op> "<key>": … file: …": a missing file wraps
// fs.ErrNotExist, a denied one or a link out of the root fs.ErrPermission,
// an invalid key, range, prefix, size or name fs.ErrInvalid, a
// file/directory clash fs.ErrExist, a failed version precondition
// objstore.ErrChanged, a closed Store fs.ErrClosed, and a done context its
// error.
//
// # Closing
//
// Close releases the directory handle; it may be called more than once.
// Readers already open keep working.
package filestore
