package docker

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/metrics"
	"github.com/nunchi-sensor/nunchi/pipeline"
	"github.com/nunchi-sensor/nunchi/rules"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// TestDeployYAMLParses: every YAML file under deploy/ (every document of
// a multi-document file) is valid YAML.
func TestDeployYAMLParses(t *testing.T) {
	root := filepath.Join(testutil.RepoRoot(t), "deploy")
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		dec := yaml.NewDecoder(f)
		for i := 0; ; i++ {
			var doc yaml.Node
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				rel, _ := filepath.Rel(root, p)
				t.Errorf("deploy/%s, document %d: %v", rel, i+1, err)
				break
			}
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Errorf("only %d YAML files under deploy/", n)
	}
}

type composeFile struct {
	Name     string `yaml:"name"`
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		NetworkMode string            `yaml:"network_mode"`
		CapAdd      []string          `yaml:"cap_add"`
		CapDrop     []string          `yaml:"cap_drop"`
		Command     []string          `yaml:"command"`
		Volumes     []string          `yaml:"volumes"`
		Secrets     []string          `yaml:"secrets"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		DependsOn   yaml.Node         `yaml:"depends_on"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
	Secrets map[string]struct {
		File        string `yaml:"file"`
		Environment string `yaml:"environment"`
	} `yaml:"secrets"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

type mount struct{ src, dst, mode string }

func parseMount(s string) mount {
	p := strings.Split(s, ":")
	m := mount{src: p[0]}
	if len(p) > 1 {
		m.dst = p[1]
	}
	if len(p) > 2 {
		m.mode = p[2]
	}
	return m
}

func isBind(src string) bool {
	return strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/")
}

// dotenv reads .env (the compose defaults).
func dotenv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(".env")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf(".env: %q", line)
		}
		env[k] = v
	}
	return env
}

// composeKeys are the Compose specification's top-level and service keys
// (those a stack like this one may use): a misspelt key is an error here,
// as it would be for docker compose.
var (
	composeTopKeys     = []string{"name", "services", "volumes", "secrets", "networks", "configs"}
	composeServiceKeys = []string{"build", "image", "network_mode", "networks", "cap_add", "cap_drop", "read_only", "command",
		"entrypoint", "volumes", "tmpfs", "secrets", "configs", "depends_on", "healthcheck", "restart", "hostname", "ports",
		"expose", "environment", "env_file", "ulimits", "user", "labels", "logging", "extra_hosts", "container_name",
		"working_dir", "security_opt", "deploy", "profiles", "init", "stop_grace_period", "stop_signal", "sysctls",
		"devices", "shm_size", "privileged", "pid", "ipc", "mem_limit", "cpus"}
)

// TestCompose: the keys are Compose's, the services are there, and every
// file the stack mounts, builds from or provisions exists in the repository.
func TestCompose(t *testing.T) {
	c := readCompose(t)
	var raw map[string]any
	readYAML(t, "compose.yaml", &raw)
	for k := range raw {
		if !slices.Contains(composeTopKeys, k) && !strings.HasPrefix(k, "x-") {
			t.Errorf("compose.yaml: unknown top-level key %s", k)
		}
	}
	for name, svc := range raw["services"].(map[string]any) {
		for k := range svc.(map[string]any) {
			if !slices.Contains(composeServiceKeys, k) && !strings.HasPrefix(k, "x-") {
				t.Errorf("compose.yaml: service %s: unknown key %s", name, k)
			}
		}
	}
	env := dotenv(t)
	for _, name := range []string{"nunchi", "kafka", "clickhouse", "prometheus", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %s missing", name)
		}
	}
	mounts := map[string][]mount{}
	for name, s := range c.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("%s: no image or build", name)
		}
		if s.Image != "" && (!strings.Contains(s.Image, ":") || strings.HasSuffix(s.Image, ":latest")) && s.Build == nil {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		if s.Build != nil {
			ctx := filepath.Join(".", s.Build.Context)
			if _, err := os.Stat(filepath.Join(ctx, s.Build.Dockerfile)); err != nil {
				t.Errorf("%s: build: %v", name, err)
			}
		}
		for _, v := range s.Volumes {
			m := parseMount(v)
			mounts[name] = append(mounts[name], m)
			if m.dst == "" || !strings.HasPrefix(m.dst, "/") {
				t.Errorf("%s: volume %q has no container path", name, v)
			}
			if isBind(m.src) {
				if _, err := os.Stat(m.src); err != nil {
					t.Errorf("%s: mounts %s, which is not in the repository: %v", name, m.src, err)
				}
				if m.mode != "ro" {
					t.Errorf("%s: bind mount %s is not read-only", name, m.src)
				}
			} else if _, ok := c.Volumes[m.src]; !ok {
				t.Errorf("%s: named volume %s is not declared", name, m.src)
			}
		}
		for _, sec := range s.Secrets {
			def, ok := c.Secrets[sec]
			if !ok {
				t.Errorf("%s: secret %s is not declared", name, sec)
			}
			if def.Environment != "" && env[def.Environment] == "" {
				t.Errorf("secret %s: %s has no default in .env", sec, def.Environment)
			}
			if def.File != "" {
				if _, err := os.Stat(def.File); err != nil {
					t.Errorf("secret %s: %v", sec, err)
				}
			}
		}
		if s.DependsOn.Kind == yaml.MappingNode {
			for i := 0; i < len(s.DependsOn.Content); i += 2 {
				if _, ok := c.Services[s.DependsOn.Content[i].Value]; !ok {
					t.Errorf("%s depends on unknown service %s", name, s.DependsOn.Content[i].Value)
				}
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s: port %s is published beyond loopback", name, p)
			}
		}
	}
	// ${VAR} references have a default in .env or inline.
	b, _ := os.ReadFile("compose.yaml")
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)(:-[^}]*)?\}`).FindAllStringSubmatch(string(b), -1) {
		if m[2] == "" && env[m[1]] == "" {
			t.Errorf("${%s} has no default", m[1])
		}
	}

	// The sensor: host network, exactly the capture capabilities, its config mounted.
	s := c.Services["nunchi"]
	if s.NetworkMode != "host" || !slices.Equal(s.CapAdd, []string{"NET_RAW", "NET_ADMIN"}) || !slices.Equal(s.CapDrop, []string{"ALL"}) {
		t.Errorf("sensor: network %q, cap_add %v, cap_drop %v", s.NetworkMode, s.CapAdd, s.CapDrop)
	}
	cfgPath := ""
	for i, a := range s.Command {
		if a == "-c" && i+1 < len(s.Command) {
			cfgPath = s.Command[i+1]
		}
	}
	if !mountsFile(mounts["nunchi"], cfgPath) {
		t.Errorf("sensor config %s is not mounted", cfgPath)
	}

	// Grafana: every provisioning file's dashboard folder is mounted, and
	// every dashboard it loads finds its data sources.
	checkGrafana(t, mounts["grafana"], c.Services["grafana"].Environment)
}

// mountsFile reports whether some mount puts a repository file at p.
func mountsFile(ms []mount, p string) bool {
	for _, m := range ms {
		if m.dst == p && isBind(m.src) {
			return true
		}
	}
	return false
}

// hostPath maps a container path to the repository path mounted there.
func hostPath(ms []mount, p string) (string, bool) {
	for _, m := range ms {
		if !isBind(m.src) {
			continue
		}
		if p == m.dst {
			return m.src, true
		}
		if rest, ok := strings.CutPrefix(p, m.dst+"/"); ok {
			return filepath.Join(m.src, rest), true
		}
	}
	return "", false
}

func checkGrafana(t *testing.T, ms []mount, env map[string]string) {
	t.Helper()
	uids := map[string]string{} // data source uid → type
	var dashDirs []string
	for _, m := range ms {
		switch {
		case strings.HasPrefix(m.dst, "/etc/grafana/provisioning/datasources/"):
			var ds struct {
				Datasources []struct {
					UID, Type string
					URL       string         `yaml:"url"`
					JSONData  map[string]any `yaml:"jsonData"`
				} `yaml:"datasources"`
			}
			readYAML(t, m.src, &ds)
			for _, d := range ds.Datasources {
				uids[d.UID] = d.Type
				if d.Type == "prometheus" && d.URL != "http://127.0.0.1:9090" {
					t.Errorf("Prometheus data source at %s, Prometheus listens on 127.0.0.1:9090", d.URL)
				}
				if d.Type == "grafana-clickhouse-datasource" {
					// The provisioning reads ${NUNCHI_CLICKHOUSE_*} from Grafana's environment.
					b, _ := os.ReadFile(m.src)
					for _, v := range regexp.MustCompile(`\$\{([A-Z_]+)\}`).FindAllStringSubmatch(string(b), -1) {
						if env[v[1]] == "" {
							t.Errorf("grafana: %s (used by %s) is not set", v[1], m.src)
						}
					}
				}
			}
		case strings.HasPrefix(m.dst, "/etc/grafana/provisioning/dashboards/"):
			var p struct {
				Providers []struct {
					Options struct {
						Path string `yaml:"path"`
					} `yaml:"options"`
				} `yaml:"providers"`
			}
			readYAML(t, m.src, &p)
			for _, pr := range p.Providers {
				dir, ok := hostPath(ms, pr.Options.Path)
				if !ok {
					// A directory with single files mounted into it.
					for _, mm := range ms {
						if path.Dir(mm.dst) == pr.Options.Path {
							ok = true
							dashDirs = append(dashDirs, mm.src)
						}
					}
				} else {
					dashDirs = append(dashDirs, dir)
				}
				if !ok {
					t.Errorf("grafana: dashboard folder %s is not mounted", pr.Options.Path)
				}
			}
		}
	}
	var dashboards []string
	for _, d := range dashDirs {
		if strings.HasSuffix(d, ".json") {
			dashboards = append(dashboards, d)
			continue
		}
		files, _ := filepath.Glob(filepath.Join(d, "*.json"))
		dashboards = append(dashboards, files...)
	}
	t.Logf("grafana: data sources %v, dashboards %v", uids, dashboards)
	if !slices.ContainsFunc(dashboards, func(s string) bool { return strings.HasSuffix(s, "sensor-health.json") }) || len(dashboards) < 2 {
		t.Errorf("grafana loads %v; want the sensor-health dashboard and the ClickHouse ones", dashboards)
	}
	for _, d := range dashboards {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Error(err)
			continue
		}
		var vars struct {
			Templating struct {
				List []struct{ Name, Type, Query any } `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &vars); err != nil {
			t.Errorf("%s: %v", d, err)
			continue
		}
		for _, m := range regexp.MustCompile(`"uid":\s*"([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
			uid := m[1]
			if strings.HasPrefix(uid, "${") || isDashboardUID(b, uid) {
				continue // a variable, or the dashboard's own uid
			}
			if _, ok := uids[uid]; !ok {
				t.Errorf("%s: data source uid %s is not provisioned", filepath.Base(d), uid)
			}
		}
	}
}

func isDashboardUID(b []byte, uid string) bool {
	var d struct {
		UID string `json:"uid"`
	}
	return json.Unmarshal(b, &d) == nil && d.UID == uid
}

func readYAML(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}

// TestDockerfile: the image copies files that exist and that the build
// context keeps; it builds with the Go of go.mod; it does not run as root.
func TestDockerfile(t *testing.T) {
	root := testutil.RepoRoot(t)
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	ign, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var stages, users []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			stages = append(stages, line)
		case "USER":
			users = append(users, f[1])
		case "COPY":
			if strings.HasPrefix(f[1], "--from") {
				continue
			}
			for _, src := range f[1 : len(f)-1] {
				if strings.HasPrefix(src, "--") {
					continue
				}
				if src != "." {
					if _, err := os.Stat(filepath.Join(root, src)); err != nil {
						t.Errorf("COPY %s: %v", src, err)
					}
				}
				if excluded(string(ign), src) {
					t.Errorf("COPY %s: excluded from the build context by Dockerfile.dockerignore", src)
				}
			}
		}
	}
	if len(stages) != 2 || !strings.Contains(stages[0], "golang:") || !strings.Contains(stages[1], "-slim") {
		t.Errorf("stages: %q", stages)
	}
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1], "root") || strings.HasPrefix(users[len(users)-1], "0") {
		t.Errorf("the image runs as %v", users)
	}
	for _, want := range []string{"setcap cap_net_raw,cap_net_admin+ep /usr/local/bin/nunchi", "tcpdump", "CGO_ENABLED=0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	// The builder's Go is the go.mod's major.minor.
	mod, _ := os.ReadFile(filepath.Join(root, "go.mod"))
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goVer == nil || !strings.Contains(string(b), "ARG GO_VERSION="+string(goVer[1])) {
		t.Errorf("GO_VERSION does not match go.mod's go %s", goVer[1])
	}
}

// excluded applies .dockerignore rules (last match wins) to a path,
// enough for the patterns this repository uses.
func excluded(ignore, p string) bool {
	ex := false
	for _, line := range strings.Split(ignore, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		pat := strings.TrimPrefix(strings.TrimPrefix(line, "!"), "**/")
		for q := p; q != "." && q != "/"; q = path.Dir(q) {
			ok, _ := path.Match(pat, q)
			if !ok && strings.HasPrefix(line, "**/") || strings.HasPrefix(line, "!**/") {
				ok, _ = path.Match(pat, path.Base(q))
			}
			if ok {
				ex = !neg
				break
			}
		}
	}
	return ex
}

// TestSensorConfig: the container's config loads, and agrees with the
// stack: Kafka and ClickHouse where compose publishes them, the secret
// where compose mounts it, metrics where Prometheus scrapes.
func TestSensorConfig(t *testing.T) {
	cfg, err := app.LoadConfig("nunchi.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := readCompose(t)
	if _, err := rules.LoadFiles("rules.yaml"); err != nil {
		t.Error(err)
	}
	for _, f := range cfg.Rules.Files {
		if !mountsFile(mountsOf(c, "nunchi"), f) {
			t.Errorf("rules file %s is not mounted into the sensor", f)
		}
	}
	published := map[string]bool{}
	for _, s := range c.Services {
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			published[parts[0]+":"+parts[1]] = true
		}
	}
	for _, b := range cfg.Sinks.Kafka.Brokers {
		if !published[b] {
			t.Errorf("Kafka broker %s is not published by compose (%v)", b, published)
		}
	}
	if !published[cfg.Sinks.ClickHouse.Addr] {
		t.Errorf("ClickHouse %s is not published by compose", cfg.Sinks.ClickHouse.Addr)
	}
	if !strings.HasPrefix(cfg.Sinks.ClickHouse.PasswordFile, "/run/secrets/") ||
		!slices.Contains(c.Services["nunchi"].Secrets, strings.TrimPrefix(cfg.Sinks.ClickHouse.PasswordFile, "/run/secrets/")) {
		t.Errorf("password_file %s is not a secret compose gives the sensor", cfg.Sinks.ClickHouse.PasswordFile)
	}
	var prom struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus.yml", &prom)
	if len(prom.ScrapeConfigs) != 1 || prom.ScrapeConfigs[0].StaticConfigs[0].Targets[0] != cfg.Metrics.Listen || prom.ScrapeConfigs[0].MetricsPath != "/metrics" {
		t.Errorf("Prometheus scrapes %+v, the sensor listens on %s", prom.ScrapeConfigs, cfg.Metrics.Listen)
	}
	if _, _, err := net.SplitHostPort(cfg.Metrics.Listen); err != nil {
		t.Error(err)
	}
}

func mountsOf(c composeFile, svc string) []mount {
	var ms []mount
	for _, v := range c.Services[svc].Volumes {
		ms = append(ms, parseMount(v))
	}
	return ms
}

// exposedNames returns every family name the metrics endpoint writes for a
// stats value with every optional part present (sockets, delivery counters).
func exposedNames(t *testing.T) map[string]bool {
	t.Helper()
	st := pipeline.Stats{Events: map[string]uint64{}, Shards: 1}
	st.Capture.Sockets = []capture.SourceStats{{Interface: "eth1", Socket: 0, Packets: 1}}
	st.Sinks = []sinks.SinkStats{{Name: "kafka", Delivery: &sinks.Delivery{Dropped: map[string]uint64{"spool_full": 1}}}}
	st.Inject = &inject.Stats{}
	srv := httptest.NewServer(metrics.Handler(metrics.Source{Stats: func() pipeline.Stats { return st }, Ready: func() bool { return true }}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	fams, err := metrics.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for n := range fams {
		names[n] = true
	}
	return names
}

// TestSensorHealthDashboard: the Prometheus dashboard parses, lays its
// panels out on the grid, and queries only series the endpoint exposes
// (a renamed metric breaks this test, not a panel in production).
func TestSensorHealthDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "deploy", "grafana", "sensor-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID, Title string
		Templating struct {
			List []struct {
				Name, Type string
				Query      any
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource *struct {
				Type, UID string
			} `json:"datasource"`
			GridPos struct{ H, W, X, Y int } `json:"gridPos"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if d.UID != "nunchi-sensor-health" || d.Title == "" {
		t.Errorf("uid %q title %q", d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" {
		t.Error("no datasource variable")
	}
	exposed := exposedNames(t)
	ids := map[int]bool{}
	type cellKey struct{ x, y int }
	cells := map[cellKey]string{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := cells[cellKey{x, y}]; ok {
					t.Errorf("panels %q and %q overlap", other, p.Title)
					x, y = g.X+g.W, g.Y+g.H
				}
				cells[cellKey{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("%s: datasource %+v, %d targets", p.Title, p.Datasource, len(p.Targets))
		}
		for _, tg := range p.Targets {
			if !balanced(tg.Expr) {
				t.Errorf("%s: unbalanced %s", p.Title, tg.Expr)
			}
			for _, name := range regexp.MustCompile(`\b(?:nunchi|go|process)_[a-z0-9_]+\b`).FindAllString(tg.Expr, -1) {
				used[name] = true
				if !exposed[name] {
					t.Errorf("%s: queries %s, which the endpoint does not expose", p.Title, name)
				}
			}
			for _, v := range regexp.MustCompile(`\$([a-z_]+)`).FindAllStringSubmatch(tg.Expr, -1) {
				if _, ok := vars[v[1]]; !ok && !strings.HasPrefix(v[1], "__") {
					t.Errorf("%s: unknown variable $%s", p.Title, v[1])
				}
			}
		}
	}
	// What the brief of the dashboard promises.
	for _, name := range []string{"nunchi_capture_frames_total", "nunchi_capture_kernel_drops_total", "nunchi_decoder_dropped_total",
		"nunchi_flows_active", "nunchi_events_total", "nunchi_sink_queued_events", "nunchi_sink_dropped_total"} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

func balanced(s string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inStr := false
	for _, r := range s {
		switch {
		case r == '"':
			inStr = !inStr
		case inStr:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inStr
}
