package objstore_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/tierfs/tierfs/objstore"
)

// A scheme of this module that the program did not register names the
// package to import.
func TestOpenNamesTheBackendToImport(t *testing.T) {
	var m objstore.URLMux
	_, err := m.Open(t.Context(), "s3://bucket/p?region=us-east-1")
	if !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), `import _ "github.com/tierfs/tierfs/objstore/s3store"`) {
		t.Errorf("s3:// not registered: %v; want fs.ErrInvalid naming objstore/s3store", err)
	}
	if _, err := m.Open(t.Context(), "nosuch://b"); err == nil || strings.Contains(err.Error(), "import _") {
		t.Errorf("an unknown scheme: %v; want an error with no import hint", err)
	}
}
