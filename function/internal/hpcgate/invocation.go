package hpcgate

// Invocation is E-HPC's answer to InvokeShellCommand.
type Invocation struct {
	CommandID   string
	RequestID   string
	InstanceIDs []string // always a flat list, never nil
}

// Outcome is what is known of a command: its normalized status, each
// node's result (sorted by instance id) and the counts.
//
// A node succeeded when it Finished with exit code 0 (and E-HPC did not
// report Success false); it failed when it Failed, was Stopped (killed at
// the command's Timeout) or Finished with another exit code; else it runs.
// A node E-HPC reports ended but whose result record has not arrived
// counts as running: its exit code and output are not known.
// Status is running while any node runs (with no node known: while the
// overall status is not terminal); succeeded when every node succeeded;
// partial when some succeeded and some failed; timed_out when none
// succeeded and at least one was Stopped; failed otherwise.
type Outcome struct {
	Status      string       `json:"status"` // StatusSucceeded, Partial, Failed, TimedOut or Running
	Results     []NodeResult `json:"results"`
	Summary     Summary      `json:"summary"`
	InstanceIDs []string     `json:"instanceIds"`
}

// ListedCommand is one entry of E-HPC ListCommands.
type ListedCommand struct {
	CommandID  string
	Content    string
	WorkingDir string
	Timeout    int
}

// MarkSearch is what a look-up of a marked command found: the command
// carrying the marker, and how far the look-up read.
type MarkSearch struct {
	Command  ListedCommand // the command carrying the marker; CommandID "" when none does
	Searched int           // commands read
	Total    int           // commands E-HPC reports keeping for the cluster
}

// Found reports whether a command carrying the marker was found.
func (s MarkSearch) Found() bool { return s.Command.CommandID != "" }
