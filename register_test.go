package tierfs_test

import (
	"context"
	"log/slog"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/tierfs/tierfs"
	_ "github.com/tierfs/tierfs/all" // the tests open s3:// and oss:// URLs
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
)

// A program that imports only tierfs and a file backend links none of the
// cloud SDKs: the root package registers file:// and mem:// only, and the
// S3 and OSS backends are imported by the programs that use them.
func TestLeanImport(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/tierfs/tierfs", "github.com/tierfs/tierfs/objstore/filestore").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages: %s", len(deps), out)
	}
	for _, p := range deps {
		if strings.Contains(p, "aws") || strings.Contains(p, "alibabacloud") || strings.Contains(p, "aliyun") ||
			strings.HasSuffix(p, "/s3store") || strings.HasSuffix(p, "/ossstore") {
			t.Errorf("tierfs + filestore links %s", p)
		}
	}
	// And package all links them.
	out, err = exec.Command("go", "list", "-deps", "github.com/tierfs/tierfs/all").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "github.com/aws/aws-sdk-go-v2/service/s3") || !strings.Contains(string(out), "/ossstore") {
		t.Errorf("package all does not link the S3 and OSS backends")
	}
}

// tierfs.Open hands WithLogger's logger to the store's opener, which
// routes its SDK's log output there.
func TestOpenPassesLogger(t *testing.T) {
	var got *slog.Logger
	err := objstore.DefaultURLMux().Register("logtest", objstore.OpenerFunc(func(ctx context.Context, u *url.URL) (objstore.Store, error) {
		got = objstore.LoggerFromContext(ctx)
		return memstore.New(), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	l := slog.New(slog.DiscardHandler)
	fsys, err := tierfs.Open(t.Context(), "logtest://x", tierfs.WithLogger(l))
	if err != nil {
		t.Fatal(err)
	}
	fsys.Close()
	if got != l {
		t.Errorf("the opener got logger %p, want WithLogger's %p", got, l)
	}
}
