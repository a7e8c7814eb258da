// Command nunchi is the sensor's command line: a thin layer of flags over
// internal/app (see DESIGN.md §4b for the contract).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/internal/config"
	"github.com/nunchi-sensor/nunchi/metrics"
	"github.com/nunchi-sensor/nunchi/rules"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	metrics.Version = version // nunchi_build_info
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "nunchi: %s\n", oneLine(err))
		os.Exit(1)
	}
}

// oneLine flattens a (joined) error into the one-line reason the CLI contract promises.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "nunchi",
		Short:         "Passive network sensor: flows, names, blocked sites, NAT and anomalies",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newReplayCmd(stdout, stderr), newLiveCmd(stdout, stderr), newCheckCmd(stdout), newConfigCmd(stdout), newRulesCmd(stdout), newVersionCmd(stdout))
	root.AddCommand(newQueryCmd(stdout))
	return root
}

type commonFlags struct {
	configFile string
}

func (c *commonFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&c.configFile, "config", "c", "", "YAML config file")
}

func newReplayCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		common    commonFlags
		output    string
		shards    int
		speed     float64
		progress  string
		ruleFiles []string
		report    string
		metrics   string
	)
	cmd := &cobra.Command{
		Use:   "replay FILE...",
		Short: "Replay pcap/pcapng files through the sensor and write events",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			cfg, err := app.LoadConfig(common.configFile, os.Environ())
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("output") {
				cfg.Sinks.JSONL.Path = output
			}
			if cmd.Flags().Changed("shards") {
				cfg.Capture.Shards = shards
			}
			if cmd.Flags().Changed("speed") {
				cfg.Capture.Speed = speed
			}
			if cmd.Flags().Changed("rules") {
				cfg.Rules.Files = ruleFiles
			}
			if cmd.Flags().Changed("report") {
				cfg.Report.Path = report
			}
			if cmd.Flags().Changed("metrics") {
				cfg.Metrics.Listen = metrics
			}
			if err := cfg.Check(); err != nil {
				return err
			}
			log := app.NewLogger(cfg.Log, stderr)
			opts := app.ReplayOptions{Files: files, Stdout: stdout}
			if showProgress(progress, cfg.Sinks.JSONL.Path) {
				opts.Progress = stderr
			}
			_, err = app.Replay(cmd.Context(), cfg, opts, log)
			return err
		},
	}
	common.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "-", "events as JSON lines to this file (- = stdout); config sinks.jsonl.path")
	cmd.Flags().IntVar(&shards, "shards", 0, "worker shards (0 = one per CPU); config capture.shards")
	cmd.Flags().Float64Var(&speed, "speed", 0, "pacing: 0 = as fast as possible, 1 = original timing, 10 = 10x; config capture.speed")
	cmd.Flags().StringVar(&progress, "progress", "auto", "progress line on stderr: auto (when a terminal), always, never")
	cmd.Flags().StringArrayVar(&ruleFiles, "rules", nil, "rules or list file, any supported format (repeatable); config rules.files")
	cmd.Flags().StringVar(&report, "report", "", "write a self-contained HTML report of the run here; config report.path")
	cmd.Flags().StringVar(&metrics, "metrics", "", "serve Prometheus metrics and health on this address; config metrics.listen")
	return cmd
}

func showProgress(mode, out string) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return false
	}
	// Events on the same terminal would be garbled by the status line.
	return !((out == "-" || out == "") && term.IsTerminal(int(os.Stdout.Fd())))
}

func newCheckCmd(stdout io.Writer) *cobra.Command {
	var common commonFlags
	cmd := &cobra.Command{
		Use:   "check -c CONFIG",
		Short: "Validate a config file (and the rule files it names)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if common.configFile == "" {
				return errors.New("check: -c CONFIG is required")
			}
			cfg, err := app.LoadConfig(common.configFile, os.Environ())
			if err != nil {
				return err
			}
			if len(cfg.Rules.Files) > 0 {
				if _, err := rules.LoadFiles(cfg.Rules.Files...); err != nil {
					return fmt.Errorf("rules: %w", err)
				}
			}
			fmt.Fprintf(stdout, "%s: ok\n", common.configFile)
			return nil
		},
	}
	common.add(cmd)
	return cmd
}

func newConfigCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Config file tools"}
	var common commonFlags
	dump := &cobra.Command{
		Use:   "dump [-c CONFIG]",
		Short: "Print the effective config, defaults included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.LoadConfig(common.configFile, os.Environ())
			if err != nil {
				return err
			}
			out, err := config.Marshal(&cfg)
			if err != nil {
				return err
			}
			_, err = stdout.Write(out)
			return err
		},
	}
	common.add(dump)
	cmd.AddCommand(dump)
	return cmd
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v, goVer, rev := version, "", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				goVer = bi.GoVersion
				if v == "" {
					v = bi.Main.Version
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						rev = s.Value
					}
				}
			}
			if v == "" || v == "(devel)" {
				v = "dev"
			}
			fmt.Fprintf(stdout, "nunchi %s", v)
			if rev != "" {
				fmt.Fprintf(stdout, " (%.12s)", rev)
			}
			fmt.Fprintf(stdout, " %s\n", goVer)
		},
	}
}
