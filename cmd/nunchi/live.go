package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/nunchi-sensor/nunchi/internal/app"
)

func newLiveCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		common    commonFlags
		ifaces    []string
		output    string
		shards    int
		ruleFiles []string
		bpf       string
		source    string
		fanout    string
		metrics   string
	)
	cmd := &cobra.Command{
		Use:   "live -i IFACE [-i IFACE]...",
		Short: "Capture from SPAN/tap interfaces (AF_PACKET fanout) and write events until interrupted",
		Long: `Capture from one or more interfaces: one AF_PACKET TPACKET_V3 socket per shard
on each interface, in a fanout group, so both directions of a flow reach one
shard. SIGINT/SIGTERM stop capture, report every open flow and flush the sinks;
SIGHUP reloads the rules. Needs CAP_NET_RAW (and CAP_NET_ADMIN for
promiscuous mode); capture.live.user drops to an unprivileged user after the
sockets are open.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := app.LoadConfig(common.configFile, os.Environ())
			if err != nil {
				return err
			}
			f := cmd.Flags()
			if f.Changed("interface") {
				cfg.Capture.Interfaces = ifaces
			}
			if f.Changed("output") {
				cfg.Sinks.JSONL.Path = output
			}
			if f.Changed("shards") {
				cfg.Capture.Shards = shards
			}
			if f.Changed("rules") {
				cfg.Rules.Files = ruleFiles
			}
			if f.Changed("bpf") {
				cfg.Capture.BPF = bpf
			}
			if f.Changed("source") {
				cfg.Capture.Live.Source = source
			}
			if f.Changed("fanout") {
				cfg.Capture.Fanout = fanout
			}
			if f.Changed("metrics") {
				cfg.Metrics.Listen = metrics
			}
			if err := cfg.Check(); err != nil {
				return err
			}
			log := app.NewLogger(cfg.Log, stderr)
			_, err = app.Live(cmd.Context(), cfg, app.LiveOptions{Stdout: stdout}, log)
			return err
		},
	}
	common.add(cmd)
	f := cmd.Flags()
	f.StringArrayVarP(&ifaces, "interface", "i", nil, "interface to capture from (repeatable); config capture.interfaces")
	f.StringVarP(&output, "output", "o", "-", "events as JSON lines to this file (- = stdout); config sinks.jsonl.path")
	f.IntVar(&shards, "shards", 0, "worker shards = sockets per interface (0 = one per CPU); config capture.shards")
	f.StringArrayVar(&ruleFiles, "rules", nil, "rules or list file, any supported format (repeatable); config rules.files")
	f.StringVar(&bpf, "bpf", "", "tcpdump filter expression; config capture.bpf")
	f.StringVar(&source, "source", "afpacket", "afpacket or pcap (libpcap builds); config capture.live.source")
	f.StringVar(&fanout, "fanout", "hash", "fanout mode: hash, cpu or lb; config capture.fanout")
	f.StringVar(&metrics, "metrics", "", "serve Prometheus metrics and health on this address; config metrics.listen")
	return cmd
}
