package gate

import (
	"context"

	"github.com/hpcgate/hpcgate/function/internal/ehpc"
)

// sealer seals the owner of a command on its marker line and opens such
// seals again (package owner).
type sealer interface {
	Seal(clusterID, marker, command, owner string) string
	Open(clusterID, marker, command, seal string) (owner string, ok bool)
}

// commandOwner returns the verified owner of commandID on clusterID: the
// one sealed on the marker line of the command as ListCommands lists it.
// A command hpcgate did not start, one without a seal or whose seal does
// not open, and one E-HPC does not list have no owner (""). Only a failed
// look-up is an error: without it nobody could say whose command it is.
func (g *Gate) commandOwner(ctx context.Context, clusterID, commandID string) (string, error) {
	if g.opt.Owners == nil {
		return "", nil
	}
	cmd, found, err := g.cmd.FindCommand(ctx, clusterID, commandID)
	if err != nil || !found {
		return "", err
	}
	m, ok := ehpc.ParseMarked(cmd.Content)
	if !ok || m.Seal == "" {
		return "", nil
	}
	owner, ok := g.opt.Owners.Open(clusterID, m.Marker, m.Command, m.Seal)
	if !ok {
		g.opt.Logger.WarnContext(ctx, "command carries a seal that does not open: no owner", "clusterId", clusterID, "commandId", commandID)
		return "", nil
	}
	return owner, nil
}
