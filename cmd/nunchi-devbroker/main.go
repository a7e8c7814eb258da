package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nunchi-devbroker:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("nunchi-devbroker", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9092", "listen address (port 0: a free port)")
	addrFile := fs.String("addr-file", "", "write the listen address to this file once ready")
	dataDir := fs.String("data", "", "keep the broker's data in this directory (default: memory only)")
	partitions := fs.Int("partitions", 3, "partitions of auto-created topics")
	saslUser := fs.String("sasl-user", "", "require SASL and accept this user:password (PLAIN and SCRAM-SHA-256/512)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-addr: port %q: %w", portStr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
		// kfake listens on all interfaces by default; the brief for tests
		// is loopback only, so bind where -addr says.
		kfake.ListenFn(func(network, a string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(a)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
	}
	if *dataDir != "" {
		opts = append(opts, kfake.DataDir(*dataDir))
	}
	if *saslUser != "" {
		u, p, ok := strings.Cut(*saslUser, ":")
		if !ok {
			return fmt.Errorf("-sasl-user: want user:password")
		}
		opts = append(opts, kfake.EnableSASL())
		for _, m := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
			opts = append(opts, kfake.Superuser(m, u, p))
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	listen := c.ListenAddrs()[0]
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(listen+"\n"), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "ready", listen)
	<-ctx.Done()
	return nil
}
