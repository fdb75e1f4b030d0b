package objstore

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
	for _, raw := range []string{
		"s3://b/p?aws_secret_access_key=" + secret,
		"s3://b/p?region=us-east-1&password=" + secret,
		"s3://b/p?token=" + secret + "&token=x",
		"oss://b/p?endpoint=" + url.QueryEscape("https://h.example/x?X-Amz-Signature="+secret),
		"s3://b/p?endpoint=" + url.QueryEscape("http://user:"+secret+"@h:9000"),
		"s3://user:" + secret + "@b/p",
		"s3://b/p#" + secret,
		"s3://b/p?region=" + url.QueryEscape("http://x:"+secret+"@y"),
		"s3://b/p?" + secret,
		"s3://b/p?" + secret + "=1",
		"s3://b/p?path_style=" + secret,
		"s3://b/p?header_timeout=" + secret,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := Redact(u)
		// A secret given as a parameter's name is not a credential's
		// place; every value is.
		if strings.Contains(got, secret) && !strings.Contains(raw, "?"+secret) {
			t.Errorf("Redact(%s) = %s holds the secret", raw, got)
		}
	}
	u, _ := url.Parse("s3://b/p?region=us-east-1&path_style=true&header_timeout=5s&endpoint=" + url.QueryEscape("http://127.0.0.1:9000/base?q=1"))
	want := "s3://b/p?endpoint=http%3A%2F%2F127.0.0.1%3A9000%2Fbase&header_timeout=5s&path_style=true&region=us-east-1"
	if got := Redact(u); got != want {
		t.Errorf("Redact of safe parameters = %s, want %s", got, want)
	}
}

// FuzzRedact: no value of a parameter outside the safe list survives
// Redact, whatever its name, and the parameter names survive each as
// often.
func FuzzRedact(f *testing.F) {
	f.Add("aws_secret_access_key", "s3cr3tvalue")
	f.Add("endpoint", "http://u:p4ssw0rdxx@h/?X-Amz-Signature=abcdef0123")
	f.Add("region", "us-east-1")
	f.Add("password", "%zz-not-escaped")
	f.Fuzz(func(t *testing.T, k, v string) {
		q := url.Values{k: {v}}
		u := &url.URL{Scheme: "s3", Host: "bucket", Path: "/p", RawQuery: q.Encode()}
		r := RedactURL(u)
		got := r.Query()
		if len(got[k]) != 1 {
			t.Fatalf("Redact(%s) lost parameter %q: %s", u, k, r)
		}
		gv := got[k][0]
		switch {
		case safeParams[k] != nil:
			if gv != v && gv != redacted || gv == v && !safeParams[k](v) {
				t.Fatalf("safe %s=%q became %q", k, v, gv)
			}
		case k == "endpoint":
			e, err := url.Parse(gv)
			if gv != redacted && (err != nil || e.User != nil || e.RawQuery != "" || e.Fragment != "") {
				t.Fatalf("endpoint %q became %q", v, gv)
			}
		default:
			if gv != redacted {
				t.Fatalf("%s=%q became %q", k, v, gv)
			}
		}
	})
}

func TestRedactText(t *testing.T) {
	const sig = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024"
	const key = "AKIAIOSFODNN7EXAMPLE"
	const tok = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
	for _, in := range []string{
		"Authorization: AWS4-HMAC-SHA256 Credential=" + key + "/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig,
		"authorization=OSS4-HMAC-SHA256 Credential=" + key + "/20260101/cn-hangzhou/oss/aliyun_v4_request,Signature=" + sig,
		"bad request /b/k?X-Amz-Credential=" + key + "%2F2026&X-Amz-Signature=" + sig + "&X-Amz-Security-Token=" + tok,
		"<SignatureProvided>" + sig + "</SignatureProvided><AWSAccessKeyId>" + key + "</AWSAccessKeyId>",
		"X-Amz-Security-Token: " + tok,
		"x-oss-security-token: " + tok,
		"OSSAccessKeyId=" + key + "&Signature=" + sig,
		`{"Authorization":"` + sig + `"}`,
	} {
		out := RedactText(in)
		for _, s := range []string{sig, key, tok} {
			if strings.Contains(out, s) {
				t.Errorf("RedactText(%q) = %q keeps %q", in, out, s)
			}
		}
	}
	if in := "objstore: read \"k\": status 503 SlowDown: please slow down"; RedactText(in) != in {
		t.Errorf("RedactText changed a message without secrets: %q", RedactText(in))
	}
}

// FuzzRedactText: a signature or token after any of the field names a
// server may echo is gone from the text, whatever surrounds it.
func FuzzRedactText(f *testing.F) {
	f.Add("pre ", "Signature=", " post")
	f.Add("", "Authorization: AWS4-HMAC-SHA256 Credential=", "")
	f.Add("<Error><Message>", "x-amz-security-token:", "</Message>")
	f.Fuzz(func(t *testing.T, pre, field, post string) {
		const secret = "Zq7SECRETvalue0123456789"
		ok := false
		for _, name := range []string{"Signature=", "Credential=", "X-Amz-Security-Token: ", "Authorization: ", "x-oss-security-token=", "AccessKeyId="} {
			if field == name {
				ok = true
			}
		}
		if !ok || strings.Contains(pre+post, secret) {
			return
		}
		out := RedactText(pre + field + secret + post)
		if strings.Contains(out, secret) {
			t.Fatalf("RedactText kept the secret: %q", out)
		}
	})
}
