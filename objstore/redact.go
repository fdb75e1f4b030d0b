package objstore

import "regexp"

// secretText matches what a server may echo of a signed request: an
// Authorization header (up to the end of its line or the markup around
// it), and the signature, credential scope, access key id and session
// token fields of AWS SigV2/V4 and OSS V1/V4 signing, as header, query or
// XML element.
var secretText = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(authorization["']?\s*[:=]\s*["']?)[^\r\n<"']+`),
	regexp.MustCompile(`(?i)(<authorization>)[^<]*`),
	regexp.MustCompile(`(?i)((?:x-amz-|x-oss-)?(?:signature|credential|security-token|accesskeyid|ossaccesskeyid|awsaccesskeyid)["']?\s*[:=]\s*)[^\s,;&"'<]+`),
	regexp.MustCompile(`(?i)(<(?:signatureprovided|stringtosign|stringtosignbytes|canonicalrequest|canonicalrequestbytes|awsaccesskeyid|ossaccesskeyid|accesskeyid|securitytoken|signature|credential)>)[^<]*`),
}

// RedactText returns s with anything that looks like a credential a
// server echoed back (an Authorization header, a signature, a credential
// scope, an access key id, a session token) replaced by REDACTED.
// Backends pass the text of service errors through it.
func RedactText(s string) string {
	for _, re := range secretText {
		s = re.ReplaceAllString(s, "${1}"+redacted)
	}
	return s
}

// RedactError returns err with its text passed through [RedactText]; the
// chain below it stays reachable for errors.Is and errors.As. Nil stays
// nil.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{err: err}
}

type redactedError struct{ err error }

func (e *redactedError) Error() string { return RedactText(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }
