package ehpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"

	"github.com/hpcgate/hpcgate/function/internal/creds"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Credentials are the keys one E-HPC call is signed with (see creds).
type Credentials = creds.Credentials

// credentialsFor picks the credentials of one call: FC's per-invocation
// STS credentials from ctx when present and complete, else the fallback
// provider (by default the SDK's chain, which reads
// ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and
// ALIBABA_CLOUD_SECURITY_TOKEN first).
func (c *Client) credentialsFor(ctx context.Context) (Credentials, error) {
	cr, err := c.fallback.For(ctx)
	if err != nil {
		return Credentials{}, &hpcgate.Error{Code: hpcgate.CodeInternal, Status: hpcgate.HTTPStatusOf(hpcgate.CodeInternal), Source: hpcgate.SourceEHPC,
			Message: "the gateway has no credentials to call E-HPC with", Err: fmt.Errorf("resolve credentials: %w", err)}
	}
	return cr, nil
}

// callCredentials is the SDK credentials provider of one pooled SDK
// client: it hands the signer whatever the current call set, and fails
// when nothing is set, so a pooled client can never sign with the
// credentials of an earlier call.
type callCredentials struct {
	cur Credentials
}

func (p *callCredentials) GetCredentials() (*credentials.Credentials, error) {
	if !p.cur.Valid() {
		return nil, errors.New("ehpc: no credentials set for this call")
	}
	return &credentials.Credentials{AccessKeyId: p.cur.AccessKeyID, AccessKeySecret: p.cur.AccessKeySecret, SecurityToken: p.cur.SecurityToken, ProviderName: "hpcgate"}, nil
}

func (p *callCredentials) GetProviderName() string { return "hpcgate" }
