package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/hayek-market/hayek/node"
)

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print hayek's version and the commit it was built from",
		Long: `Print the software version (what the node announces in its offers and in
hayek status), then the Go module version and the version control commit the
binary was built from, when the build recorded them (go build in a git
checkout does; "modified" means the checkout had uncommitted changes).
hayek --version prints the same line.`,
		Example: "  hayek version",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(g.Stdout, versionLine(debug.ReadBuildInfo()))
			return err
		},
	}
}

// versionLine is hayek's version, with the module version and commit from
// the build information when there is some.
func versionLine(bi *debug.BuildInfo, ok bool) string {
	line := "hayek " + node.Version
	if !ok {
		return line
	}
	var rev, when string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if bi.Main.Path != "" {
		line += fmt.Sprintf(" (module %s %s)", bi.Main.Path, orDash(bi.Main.Version))
	}
	if rev != "" {
		line += ", commit " + rev
		if modified {
			line += " modified"
		}
		if when != "" {
			line += " of " + when
		}
	}
	if bi.GoVersion != "" {
		line += ", " + bi.GoVersion
	}
	return line
}
