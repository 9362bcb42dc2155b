package ehpc

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Command is one entry of ListCommands (hpcgate.ListedCommand).
type Command = hpcgate.ListedCommand

// listCommands reads ListCommands page by page, at most maxPages pages,
// handing each page to each until it returns false. It returns the
// TotalCount E-HPC last reported.
func (c *Client) listCommands(ctx context.Context, clusterID, commandID string, maxPages int, each func([]Command) bool) (int, error) {
	total := 0
	for page := 1; ; page++ {
		p := map[string]string{"ClusterId": clusterID, "PageNumber": strconv.Itoa(page), "PageSize": strconv.Itoa(PageSize)}
		if commandID != "" {
			p["CommandId"] = commandID
		}
		var (
			cs []struct {
				CommandID      flexString `json:"CommandId"`
				CommandContent flexString `json:"CommandContent"`
				WorkingDir     flexString `json:"WorkingDir"`
				Timeout        flexInt    `json:"Timeout"`
			}
			size int
		)
		err := c.read(ctx, ActionListCommands, p, func(body []byte) error {
			var raw struct {
				PageSize   flexInt         `json:"PageSize"`
				TotalCount flexInt         `json:"TotalCount"`
				Commands   json.RawMessage `json:"Commands"`
			}
			if err := decodeObject(body, &raw); err != nil {
				return err
			}
			cs = nil
			size, total = int(raw.PageSize), int(raw.TotalCount)
			return unwrapList(raw.Commands, "Command", &cs)
		})
		if err != nil {
			return total, err
		}
		out := make([]Command, 0, len(cs))
		for _, x := range cs {
			out = append(out, Command{CommandID: string(x.CommandID), Content: string(x.CommandContent), WorkingDir: string(x.WorkingDir), Timeout: int(x.Timeout)})
		}
		if !each(out) {
			return total, nil
		}
		if size <= 0 {
			size = PageSize
		}
		if len(cs) == 0 || page*size >= total || page >= maxPages {
			return total, nil
		}
	}
}

// FindPages bounds the ListCommands pages FindMarked reads: the newest
// FindPages*PageSize commands of a cluster, if E-HPC lists newest first.
const FindPages = 10

// MarkSearch is what FindMarked found (hpcgate.MarkSearch).
type MarkSearch = hpcgate.MarkSearch

// FindMarked looks among the commands E-HPC lists for clusterID (at most
// FindPages pages of PageSize, read in E-HPC's order until a match) for
// the one that carries marker. It only reads: it never sends a command.
func (c *Client) FindMarked(ctx context.Context, clusterID, marker string) (MarkSearch, error) {
	var s MarkSearch
	total, err := c.listCommands(ctx, clusterID, "", FindPages, func(cs []Command) bool {
		for _, x := range cs {
			s.Searched++
			if x.CommandID != "" && MarkedBy(x.Content, marker) {
				s.Command = x
				return false
			}
		}
		return true
	})
	s.Total = total
	return s, err
}

// FindCommand returns the command commandID of clusterID as ListCommands
// lists it, reading at most FindPages pages (E-HPC may ignore the
// CommandId filter; only an exact id counts). A command or cluster E-HPC
// does not know is not found, not an error: the caller may not yet be
// allowed to learn which of the two it is.
func (c *Client) FindCommand(ctx context.Context, clusterID, commandID string) (cmd Command, found bool, err error) {
	n := 0
	_, err = c.listCommands(ctx, clusterID, commandID, FindPages, func(cs []Command) bool {
		for _, x := range cs {
			if x.CommandID == commandID {
				cmd = x
				n++
			}
		}
		return n == 0
	})
	if err != nil {
		var e *hpcgate.Error
		if errors.As(err, &e) && e.Source == hpcgate.SourceEHPC && (e.Code == "ClusterNotFound" || e.Code == "ObjectNotFound") {
			return Command{}, false, nil
		}
		return Command{}, false, err
	}
	// Two entries with one id cannot be told apart: neither counts.
	return cmd, n == 1, nil
}
