package httpapi

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/gate"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// RetryAfter is the Retry-After of a 202, in seconds: a hint for clients
// that poll without wait; a GET with ?wait=N need not wait at all.
const RetryAfter = 2

// maxWaitParam bounds ?wait= as the body's "wait" is bounded (one day);
// the gateway then bounds it by HPCGATE_MAX_WAIT and its deadline.
const maxWaitParam = 86400

// pollHeaders tells the client of a 202 where to read the command's
// outcome (Location: its GET) and when to ask (Retry-After).
func pollHeaders(h http.Header, res hpcgate.Result) {
	if gate.HTTPStatus(res) != http.StatusAccepted || res.CommandID == "" || res.Request == nil {
		return
	}
	h.Set("Location", "/v1/commands/"+url.PathEscape(res.CommandID)+"?clusterId="+url.QueryEscape(res.Request.ClusterID))
	h.Set("Retry-After", strconv.Itoa(RetryAfter))
}

// waitParam reads ?wait=: seconds (a decimal number from 0 to a day) or
// true for as long as allowed. Absent is nil: GET answers at once.
func waitParam(q url.Values) (*time.Duration, error) {
	if !q.Has("wait") {
		return nil, nil
	}
	s := strings.TrimSpace(q.Get("wait"))
	switch s {
	case "true":
		d := gate.WaitAsLongAsAllowed
		return &d, nil
	case "false":
		d := time.Duration(0)
		return &d, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(n) || n < 0 || n > maxWaitParam {
		return nil, hpcgate.Invalid("wait: want seconds from 0 to %d, or true", maxWaitParam)
	}
	d := time.Duration(n * float64(time.Second))
	return &d, nil
}
