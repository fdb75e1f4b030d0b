package filestore

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/tierfs/tierfs/objstore"
)

// Scheme is the URL scheme of local directories.
const Scheme = "file"

func init() {
	if err := objstore.DefaultURLMux().Register(Scheme, objstore.OpenerFunc(openURL)); err != nil {
		panic(err)
	}
}

func openURL(ctx context.Context, u *url.URL) (objstore.Store, error) {
	dir, err := ParseURL(u)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("objstore: file: open %s: %w", objstore.Redact(u), err)
	}
	return New(dir, nil)
}

// ParseURL checks a file:// URL and returns the directory it names:
// file:///abs/dir, or file://localhost/abs/dir. The path must be absolute
// and clean (no "." or ".." elements, no repeated slashes; one trailing
// slash is allowed); query parameters, other hosts, ports and user
// information are errors wrapping fs.ErrInvalid. Percent-escapes in the
// path are decoded.
func ParseURL(u *url.URL) (dir string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("objstore: file: open %s: %w: %s; want file:///absolute/dir", objstore.Redact(u), fs.ErrInvalid, why)
	}
	p := u.Path
	switch {
	case u.Scheme != Scheme:
		return "", bad(fmt.Sprintf("scheme %q", u.Scheme))
	case u.Opaque != "":
		return "", bad("relative or opaque path")
	case u.User != nil:
		return "", bad("user information")
	case u.Host != "" && u.Host != "localhost":
		return "", bad(fmt.Sprintf("host %q (only local directories)", u.Host))
	case u.RawQuery != "" || u.ForceQuery:
		return "", bad("query parameters (none are known)")
	case u.Fragment != "":
		return "", bad("fragment")
	case !strings.HasPrefix(p, "/"):
		return "", bad("the path must be absolute")
	case strings.ContainsRune(p, 0):
		return "", bad("NUL in the path")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if path.Clean(p) != p {
		return "", bad(fmt.Sprintf("path %q is not clean", u.Path))
	}
	dir = filepath.FromSlash(p)
	if !filepath.IsAbs(dir) {
		// On Windows, file:///C:/data gives the path /C:/data.
		if d := filepath.FromSlash(strings.TrimPrefix(p, "/")); filepath.IsAbs(d) {
			return d, nil
		}
		return "", bad("the path must be absolute")
	}
	return dir, nil
}
