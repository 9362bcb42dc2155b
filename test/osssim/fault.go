package osssim

import "time"

// Fault changes how the stand-in answers the next Times authenticated
// requests of Op. Faults apply after authentication and authorization, so
// a badly signed or refused request never uses one up; several queued
// faults are used in the order injected.
//
// The parts act in this order: Latency (added before answering), Drop
// (the connection is closed without an answer and nothing is done), Code
// (an error answer, nothing is done), then the request itself, then
// DropAfter (done, but the connection is closed without an answer).
type Fault struct {
	Op        string        // GetObject, HeadObject, PutObject, DeleteObject; "" matches every one
	Times     int           // requests affected; <= 0 means 1
	Code      string        // error answer with this code (e.g. CodeSlowDown)
	Status    int           // HTTP status of the error; 0 => the code's own (500 for a code not listed)
	Message   string        // "" => the code's default message
	Latency   time.Duration // added before answering
	Drop      bool          // close the connection, do nothing
	DropAfter bool          // do the request, then close the connection without answering
}

// Inject queues f.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		f.Status = 500
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *Server) takeFault(op string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		f.Times--
		if f.Times == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		c := *f
		return &c
	}
	return nil
}
