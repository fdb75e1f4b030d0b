// Package peer makes the processes that read one store into a ring that
// shares cached blocks, so that a fleet fetches each block from the
// origin about once. A [Member] is the cache's [cache.Peers]: after its
// tiers miss, the cache asks the block's owner in the ring before the
// origin. tierfs wires it with tierfs.WithPeers.
//
// # Membership
//
// Members find each other with hashicorp/memberlist (SWIM with the
// Lifeguard extensions), joining through Config.Seeds — addresses, or a
// DNS name resolved again (with Config.Resolver) on every rejoin, every
// address it has joined, as a Kubernetes headless service gives; a list
// naming every member is a static membership. A
// member rejoins through the seeds every RejoinInterval, which heals a
// split ring and lets members start in any order. Names are unique (host
// name and a random suffix by default); DeadNodeReclaim lets a restarted
// member with a fixed name rejoin once its old self is declared dead.
//
// Each member advertises in memberlist's node metadata its block
// server's address, zone, weight, a hash of its store identity and its
// block size, in a versioned binary layout kept well under memberlist's
// 512 bytes (New refuses a Config whose metadata would not fit: memberlist
// panics on it). memberlist's event callbacks (join, update, leave) keep
// a map of the members that share this one's store and block size; every
// change publishes a new immutable [View], swapped atomically, so a fetch
// never takes a lock to find an owner. [View.Changed] lets a caller wait
// for the next view instead of polling.
//
// # Ownership
//
// A block's owners are chosen by weighted rendezvous hashing over the
// view ([View.Owners]): each member scores the block's cache key as
// weight / -ln(u), u drawn from a hash of member and key, and the two
// highest scores are the primary and the secondary owner. A joining
// member takes about its share of blocks and nothing moves between the
// others; a leaving member's blocks go to their secondaries, so the
// secondary is also where a block goes next.
//
// A hot object must not land on a few members: [View.BlockOwners] takes
// an object version's blocks in index order and gives each to the
// highest-scoring member that holds fewer than ceil(LoadFactor × its
// weighted share) of them (a bounded load, as in consistent hashing with
// bounded loads), so 8 members loading one model each serve about an
// eighth of it. Every member with the same view computes the same
// assignment; a join or leave still moves about 1/N of the blocks.
//
// With Config.ZoneLocal, a member's view holds only the members of its
// zone: each zone is a ring of its own for ownership and data (no block
// crosses zones; each zone reads each block from the origin once), while
// gossip still spans the zones.
//
// # Data plane
//
// Blocks move over HTTP. A request names the block's full identity
// (store, key, ETag, version id, object size, block size, index) and the
// first byte wanted (and, for a cached-only range, how many bytes), and
// is signed with HMAC-SHA256 under a key derived from Config.Secret over
// the method, the path, that identity, the offset (and length), a
// timestamp and a random nonce. The server answers 401 with no
// body to an unsigned, forged, stale (beyond MaxClockSkew) or replayed
// (nonce seen before) request.
//
// The owner serves from its own cache with cache.LoadOptions{Local: true}:
// from its tiers, by joining a load already running, or by fetching from
// the origin once and keeping the block. It never forwards, and it
// refuses (409) a block whose load is itself waiting on a peer: two
// members whose views disagree would otherwise wait on each other
// through the cache's single-flight join (mailgun/groupcache#72).
//
// S3 gives no checksum for a range, so the owner sends the block in
// frames of FrameSize bytes, each followed by its CRC32C and an
// HMAC-SHA256 tag over the request's nonce, the block's identity, the
// frame's offset and its bytes. The client verifies each frame before it
// announces the bytes to the cache; a frame from another response,
// block, version or offset, or altered in any bit, fails. Bytes that did
// not verify are never announced and never reach a tier: the cache
// resumes from the origin at the last verified byte.
//
// # Failure
//
// A fetch tries the primary owner, then the secondary, then gives the
// block back to the cache, which resumes from the origin at the last
// verified byte. A peer that fails, stalls for StallTimeout, or sends a
// bad frame is put in a penalty box whose time doubles with each failure
// in a row. Failure detection therefore does not wait for memberlist,
// which can take 5–60 s to declare a member dead.
//
// When an owner hangs, the members reading its blocks stall on it at
// about the same time and turn to each block's secondary, which is
// usually waiting on the same owner for the same block. A member asks a
// secondary on a path that says it gave up on the primary; the secondary
// then gives up on its own fetch at once and loads the block from the
// origin, and the asker joins that load (instead of being refused and
// going to the origin too). A member that is itself the secondary of a
// block whose primary failed answers the cache cache.ErrNoPeer along
// with the failure, so the cache keeps the block for the ring that now
// asks it. Each affected block thus costs one origin GET more than the
// owner's own, at most.
//
// The penalty box spares a dead owner the requests, not the origin the
// loads: every block it owned that a member's readers want would go to
// the origin from that member at once. Such origin fallbacks are capped
// at Config.MaxFallbacks at a time per member (8 by default); the others
// wait for a slot. Fetch marks the range the cache will read from the
// origin, and the store the cache reads through, [Member.Origin], holds
// a slot from opening that range to closing it; tierfs.WithPeers wires
// it. [Stats] counts the fallbacks, by cause and those that waited.
//
// # Trust
//
// Gossip is encrypted with AES-256-GCM under a key derived from the
// secret and labelled with Config.Cluster, so a member with another
// secret or label never joins. Every member holding the secret is
// trusted to serve true bytes: the tags prove a frame came from some
// member for this request, not that the member read it correctly from
// the origin. One ring is one trust domain. Config.TLS adds TLS or
// mutual TLS to the data plane, for confidentiality on the wire; the
// signatures and tags are checked either way.
//
// # Sparse reads
//
// A sparse read (a few bytes of a block, as random reads, young streams
// and fstest make) must not make an owner load a whole block, nor go to
// the origin for bytes a member already holds. [Member.FetchCached], the
// cache's cache.CachedFetcher, asks the block's primary owner only (a
// miss goes to the origin, not to the secondary) for the range, with a
// request signed like a block request, on a path of its own and with the
// range's length signed too. The owner answers from its tiers only
// (cache.Blocks.ReadCached: the whole block, or an extent that covers
// the range), in the same frames, bound to the request's nonce, the
// block's identity and each frame's offset; or 404 with no body when it
// does not hold the bytes. It never starts or joins a load for it, so it
// never forwards. The client verifies and penalizes as for blocks; a 404
// is a miss, not a failure. [Stats] counts these requests and their
// bytes on both sides (CachedFetches, CachedHits, CachedServed, …).
//
// tierfs takes a file's version by HEAD when peers are on, and ReadFile
// of a file of one block reads that block through the ring.
package peer
