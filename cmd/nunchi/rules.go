package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nunchi-sensor/nunchi/rules"
)

func newRulesCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "rules", Short: "Rule and list file tools"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE...",
		Short: "Validate rule files: counts per list, errors with file and line, load time and memory",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			set, err := rules.LoadFiles(files...)
			if err != nil {
				return err
			}
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			st := set.Stats()
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "list\tversion\taction\texact\tsuffix\turls\tcidrs\tignored")
			for _, l := range st.Lists {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", l.ID, l.Version, l.Action, l.Exact, l.Suffix, l.URLs, l.CIDRs, l.Ignored)
			}
			tw.Flush()
			fmt.Fprintf(stdout, "%d names, %d URL prefixes, %d CIDRs, %d allow entries from %d files; loaded in %v, %.1f MB (heap growth %.1f MB)\n",
				st.Names, st.URLs, st.CIDRs, st.Allow, st.Files, st.LoadTime.Round(1e6), float64(st.MemoryBytes)/1e6,
				float64(int64(after.HeapInuse)-int64(before.HeapInuse))/1e6)
			for _, w := range set.Warnings() {
				fmt.Fprintf(stdout, "warning: %s\n", w)
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "test FILE... -- NAME|URL|IP...",
		Short: "Show which entries match a name, URL or address, and why",
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() < 1 || cmd.ArgsLenAtDash() == len(args) {
				return errors.New("usage: nunchi rules test FILE... -- NAME|URL|IP...")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			set, err := rules.LoadFiles(args[:dash]...)
			if err != nil {
				return err
			}
			for _, q := range args[dash:] {
				ex := set.Explain(q)
				if len(ex) == 0 {
					fmt.Fprintf(stdout, "%s: no match\n", q)
					continue
				}
				for _, e := range ex {
					mark := " "
					if e.Effective {
						mark = "*" // the entry the sensor would report
					}
					fmt.Fprintf(stdout, "%s %s: %s %s (list %s, rule %s, action %s): %s\n",
						mark, q, e.Kind, e.Pattern, e.List, e.RuleID, e.Action, e.Reason)
				}
			}
			return nil
		},
	})
	cmd.AddCommand(newRetroCmd(stdout))
	return cmd
}
