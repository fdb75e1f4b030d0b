package peer

import (
	"crypto/tls"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a Member. The zero value of each optional field means
// the default given in its comment; DefaultConfig returns a preset for a
// LAN. New validates the whole Config and returns an error wrapping
// fs.ErrInvalid for any value memberlist or the data plane would refuse or
// panic on, instead of correcting it.
type Config struct {
	// Name is this member's name in the ring, unique among members. Empty
	// means the host name and a random suffix, so two processes on one
	// host never collide and a restarted process is a new member. A fixed
	// name rejoins in place once the old member is declared dead (see
	// DeadNodeReclaim).
	Name string
	// BindAddr and BindPort are where gossip (UDP and TCP) listens. Empty
	// BindAddr means "0.0.0.0"; BindPort 0 picks a free port (tests; read
	// it back with Member.GossipAddr). DefaultConfig sets 7946.
	BindAddr string
	BindPort int
	// AdvertiseAddr is the gossip address ("host:port") other members are
	// told, for a member behind NAT. Empty means the bound address.
	AdvertiseAddr string
	// DataAddr is where the block server listens ("host:port"). Empty
	// means BindAddr with a free port. Its host, or the gossip address's
	// when the host is unspecified, is what other members dial.
	DataAddr string
	// Seeds are the gossip addresses ("host:port", or a DNS name that
	// resolves to several, as a Kubernetes headless service does) a member
	// joins through. A name is resolved with Resolver again on every
	// rejoin, and every address it has is joined. A static membership is
	// a Seeds list naming every member. None: this member starts a ring
	// of its own that others join.
	Seeds []string
	// Resolver looks up the host names in Seeds. Nil means
	// net.DefaultResolver.
	Resolver *net.Resolver
	// RejoinInterval is how often a member joins through Seeds again, to
	// heal a split ring. Zero means 30 s; negative means never.
	RejoinInterval time.Duration
	// Secret is the cluster's shared secret, at least 16 bytes. Required.
	// Keys derived from it encrypt gossip (AES-256-GCM), sign data-plane
	// requests and tag every frame of block bytes. A member holding it is
	// trusted: one ring is one trust domain.
	Secret []byte
	// Cluster labels every gossip packet (memberlist's Label, authenticated
	// with the encryption), so two rings sharing a secret and a network
	// stay apart. At most 200 bytes.
	Cluster string
	// Zone is this member's failure domain (an availability zone), carried
	// in its metadata. Optional.
	Zone string
	// ZoneLocal restricts the ring to the members of this member's Zone:
	// blocks are owned, fetched and served within a zone only, so no
	// block crosses zones (each zone fetches each block from the origin
	// about once). Members of other zones still gossip with it.
	ZoneLocal bool
	// Weight scales the share of blocks this member owns. Zero means 1;
	// it must be between 0.01 and 100.
	Weight float64
	// StoreID and BlockSize must match the cache's (cache.Config): only
	// members with the same store identity and block size share blocks.
	// tierfs.WithPeers fills them in from the FS.
	StoreID   string
	BlockSize int64
	// FrameSize is the size of one verified piece of a block on the wire.
	// Zero means 256 KiB; it must be between 4 KiB and 16 MiB.
	FrameSize int
	// StallTimeout is how long a fetch from a peer may go without a
	// verified frame before it is abandoned for the next owner or the
	// origin. Zero means 2 s.
	StallTimeout time.Duration
	// FetchTimeout bounds one fetch of a block, or of a cached-only
	// range, from one peer. Zero means 30 s.
	FetchTimeout time.Duration
	// MaxClockSkew is how far a signed request's timestamp may be from
	// this member's clock; older requests are refused as stale, and nonces
	// are remembered this long to refuse replays. Zero means 30 s.
	MaxClockSkew time.Duration
	// Penalty is how long a peer that failed, stalled or sent bad bytes is
	// skipped; it doubles with each failure in a row, up to MaxPenalty.
	// Zero means 2 s and 1 min.
	Penalty, MaxPenalty time.Duration
	// MaxServing caps the requests served at once, for blocks and for
	// cached-only ranges (see Member.FetchCached); more are refused (503)
	// and the asker goes on to the origin. Loads started for
	// peers reserve from the cache's memory budget like any other. Zero
	// means 64.
	MaxServing int
	// MaxFallbacks caps the block loads this member sends to the origin
	// at once because the ring failed them: the block's owner (other than
	// this member) died, stalled, refused or sent bad bytes, or is in the
	// penalty box. When an owner dies, the readers of its blocks would
	// otherwise all go to the origin from each member at once; beyond the
	// cap they wait for a slot (or their context). The cap holds for the
	// cache that reads the origin through Member.Origin (tierfs.WithPeers
	// wires it). Zero means 8 (DefaultMaxFallbacks); negative means no
	// cap.
	MaxFallbacks int
	// DeadNodeReclaim is how soon after a member is declared dead its name
	// may be taken by a member at another address (a restarted process
	// with a fixed Name). Zero means 5 s.
	DeadNodeReclaim time.Duration
	// SyncInterval is how often a member exchanges its full view with a
	// random other (memberlist's push-pull): it bounds how long views can
	// disagree after a lost gossip message, such as a leave that some
	// member missed. Zero means the preset's (30 s, or 15 s with Local).
	SyncInterval time.Duration
	// Local uses memberlist's DefaultLocalConfig timings (one host or a
	// fast LAN: faster failure detection) instead of DefaultLANConfig.
	Local bool
	// TLS, if not nil, serves and fetches blocks over TLS with this
	// configuration: its Certificates are the server's certificate and,
	// for mutual TLS, the client's (set ClientAuth and ClientCAs to demand
	// one); RootCAs verifies the other members. The requests are signed
	// and the frames tagged either way. Nil means plain HTTP.
	TLS *tls.Config
	// Logger receives membership changes and fetch failures at debug
	// level. Nil means none.
	Logger *slog.Logger
	// Now is the clock that signs and checks requests. Nil means
	// time.Now.
	Now func() time.Time
}

// DefaultConfig returns the preset for members on a LAN: gossip on port
// 7946 of every interface, the block server on port 7947. Secret, Seeds
// (unless this is the first member) and the store identity are left to
// the caller.
func DefaultConfig() Config {
	return Config{BindAddr: "0.0.0.0", BindPort: 7946, DataAddr: ":7947"}
}

// Defaults.
const (
	DefaultFrameSize       = 256 << 10
	DefaultStallTimeout    = 2 * time.Second
	DefaultFetchTimeout    = 30 * time.Second
	DefaultMaxClockSkew    = 30 * time.Second
	DefaultPenalty         = 2 * time.Second
	DefaultMaxPenalty      = time.Minute
	DefaultRejoinInterval  = 30 * time.Second
	DefaultDeadNodeReclaim = 5 * time.Second
	minSecret              = 16
	maxCluster             = 200
)

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.BindAddr == "" {
		c.BindAddr = "0.0.0.0"
	}
	if c.DataAddr == "" {
		c.DataAddr = net.JoinHostPort(c.BindAddr, "0")
	}
	if c.RejoinInterval == 0 {
		c.RejoinInterval = DefaultRejoinInterval
	}
	if c.Weight == 0 {
		c.Weight = 1
	}
	if c.FrameSize == 0 {
		c.FrameSize = DefaultFrameSize
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.FetchTimeout == 0 {
		c.FetchTimeout = DefaultFetchTimeout
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
	if c.Penalty == 0 {
		c.Penalty = DefaultPenalty
	}
	if c.MaxPenalty == 0 {
		c.MaxPenalty = DefaultMaxPenalty
	}
	if c.MaxServing == 0 {
		c.MaxServing = 64
	}
	if c.MaxFallbacks == 0 {
		c.MaxFallbacks = DefaultMaxFallbacks
	}
	if c.DeadNodeReclaim == 0 {
		c.DeadNodeReclaim = DefaultDeadNodeReclaim
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("peer: %w: "+format, append([]any{fs.ErrInvalid}, args...)...)
}

// validate checks a Config with its defaults set.
func (c *Config) validate() error {
	switch {
	case len(c.Secret) < minSecret:
		return invalid("secret of %d bytes; at least %d needed", len(c.Secret), minSecret)
	case len(c.Cluster) > maxCluster:
		return invalid("cluster label of %d bytes; at most %d", len(c.Cluster), maxCluster)
	case c.StoreID == "":
		return invalid("no store identity")
	case c.BlockSize <= 0:
		return invalid("block size %d", c.BlockSize)
	case c.BindPort < 0 || c.BindPort > 65535:
		return invalid("gossip port %d", c.BindPort)
	case !(c.Weight >= 0.01 && c.Weight <= 100):
		return invalid("weight %v outside [0.01, 100]", c.Weight)
	case c.FrameSize < 4<<10 || c.FrameSize > 16<<20:
		return invalid("frame size %d outside [4 KiB, 16 MiB]", c.FrameSize)
	case c.SyncInterval < 0:
		return invalid("negative sync interval")
	case c.StallTimeout < 0 || c.FetchTimeout < 0 || c.MaxClockSkew < 0 || c.Penalty < 0 || c.MaxPenalty < 0 || c.DeadNodeReclaim < 0:
		return invalid("negative timeout")
	case c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil:
		return invalid("TLS configuration without a certificate")
	case c.MaxServing < 0:
		return invalid("negative MaxServing")
	case len(c.Name) > 128:
		return invalid("member name of %d bytes; at most 128", len(c.Name))
	}
	if net.ParseIP(c.BindAddr) == nil {
		return invalid("gossip bind address %q is not an IP address", c.BindAddr)
	}
	if _, p, err := net.SplitHostPort(c.DataAddr); err != nil {
		return invalid("data address %q: %v", c.DataAddr, err)
	} else if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
		return invalid("data address %q: bad port", c.DataAddr)
	}
	if c.AdvertiseAddr != "" {
		h, p, err := net.SplitHostPort(c.AdvertiseAddr)
		if err != nil || net.ParseIP(h) == nil {
			return invalid("advertise address %q is not an IP:port", c.AdvertiseAddr)
		}
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return invalid("advertise address %q: bad port", c.AdvertiseAddr)
		}
	}
	// The metadata is checked with the data address as long as it can be.
	m := meta{DataAddr: c.DataAddr + "xxxxxxxxxxxxxxxxxxxxxx", Zone: c.Zone, Weight: c.Weight, Store: storeHash(c.StoreID), BlockSize: c.BlockSize}
	if n := len(m.encode()); n > memberlist.MetaMaxSize {
		return invalid("node metadata of %d bytes; memberlist allows %d (shorten Zone or DataAddr)", n, memberlist.MetaMaxSize)
	}
	return nil
}
