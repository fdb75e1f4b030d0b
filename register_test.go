package tierfs_test

import (
	"os/exec"
	"strings"
	"testing"

	_ "github.com/tierfs/tierfs/all" // the tests open s3:// and oss:// URLs
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
