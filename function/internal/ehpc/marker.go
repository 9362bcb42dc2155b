package ehpc

import (
	"crypto/rand"
	"regexp"
	"strings"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// The marker line is the last line of every command the gateway sends
// when it can: a shell comment that E-HPC keeps with the command and
// ListCommands shows, so that the gateway can find a command whose answer
// was lost (by its marker) and learn who started it (by its seal):
//
//	# hpcgate:<id>
//	# hpcgate:<id> <seal>
//
// How the id is chosen (NewMarker: random) and what the seal holds (a
// signed owner, package owner) are the callers' business; this file only
// fixes the line's shape, so both can change apart.

// MarkerPrefix begins every invocation marker.
const MarkerPrefix = "hpcgate:"

// markerLinePrefix begins a marker line. No line of a command the gateway
// sends may begin with it, except its own last one (HasMarkerLine).
const markerLinePrefix = "# " + MarkerPrefix

// The characters of a marker and of a seal: plain ASCII that neither the
// shell nor E-HPC can read as anything but comment text. (Length bounds
// as hpcgate.Pattern: a counted repetition such as {1,1000} compiles into
// a thousand copies of its class at start-up.)
var (
	markerRE = hpcgate.MustPattern(`^`+regexp.QuoteMeta(MarkerPrefix)+`[A-Za-z0-9_-]+$`, len(MarkerPrefix)+100)
	sealRE   = hpcgate.MustPattern(`^[A-Za-z0-9_.-]+$`, 1000)
)

// NewMarker returns a fresh invocation marker: MarkerPrefix followed by 26
// random base32 characters (128 bits from crypto/rand). A marker sent with
// a command, as its last line (see Mark), makes the command recognisable
// in ListCommands when the answer to InvokeShellCommand is lost.
func NewMarker() string { return MarkerPrefix + rand.Text() }

// Mark returns command followed by a line holding only a shell comment
// that carries marker. The caller must know the comment to be inert after
// command: a complete command whose text does not end inside a
// here-document or with a line continuation.
func Mark(command, marker string) string { return command + "\n# " + marker }

// MarkSealed is Mark with a seal after the marker on the same line; an
// empty seal gives Mark's line. The seal must match [A-Za-z0-9_.-]+.
func MarkSealed(command, marker, seal string) string {
	if seal == "" {
		return Mark(command, marker)
	}
	return command + "\n# " + marker + " " + seal
}

// Marked is a command as E-HPC lists it, split at its marker line.
type Marked struct {
	Command string // the text before the marker line, line ends as LF
	Marker  string
	Seal    string // "" when the line carries none
}

// ParseMarked splits content, a command as ListCommands lists it, at its
// last line, which must be a whole marker line (a CRLF or trailing line
// end, which a store may add, is tolerated). Anything else is no marker:
// a marker elsewhere in the text, extra text on the line, a marker or seal
// with other characters, a line that is cut short.
func ParseMarked(content string) (Marked, bool) {
	text := strings.ReplaceAll(content, "\r\n", "\n")
	text = strings.TrimSuffix(text, "\n")
	i := strings.LastIndexByte(text, '\n')
	if i < 0 {
		return Marked{}, false
	}
	line, ok := strings.CutPrefix(text[i+1:], "# ")
	if !ok {
		return Marked{}, false
	}
	marker, seal, sealed := strings.Cut(line, " ")
	if !markerRE.MatchString(marker) || (sealed && !sealRE.MatchString(seal)) {
		return Marked{}, false
	}
	return Marked{Command: text[:i], Marker: marker, Seal: seal}, true
}

// ValidMarker reports whether marker has the shape of an invocation marker.
func ValidMarker(marker string) bool { return markerRE.MatchString(marker) }

// ValidSeal reports whether seal may follow a marker on its line.
func ValidSeal(seal string) bool { return sealRE.MatchString(seal) }

// MarkedBy reports whether content, a command as E-HPC lists it, ends
// with the marker line of marker (sealed or not).
func MarkedBy(content, marker string) bool {
	m, ok := ParseMarked(content)
	return ok && ValidMarker(marker) && m.Marker == marker
}

// HasMarkerLine reports whether a line of command begins as a marker line
// does. The gateway refuses such commands: sent without its own marker (a
// command too long to carry one), the copied line would be the last one,
// and the command would pass for the one that carried it first.
func HasMarkerLine(command string) bool {
	for line := range strings.SplitSeq(command, "\n") {
		if strings.HasPrefix(strings.TrimSuffix(line, "\r"), markerLinePrefix) {
			return true
		}
	}
	return false
}
