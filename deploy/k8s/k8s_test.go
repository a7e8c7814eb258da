package k8s

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/rules"
)

type meta struct {
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace"`
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	} `yaml:"readinessProbe"`
	LivenessProbe *struct {
		HTTPGet struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	} `yaml:"livenessProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		RunAsUser                *int  `yaml:"runAsUser"`
		Capabilities             struct {
			Add  []string `yaml:"add"`
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

type manifest struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   meta              `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				ServiceAccountName string `yaml:"serviceAccountName"`
				HostNetwork        bool   `yaml:"hostNetwork"`
				DNSPolicy          string `yaml:"dnsPolicy"`
				SecurityContext    struct {
					RunAsUser    int  `yaml:"runAsUser"`
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				InitContainers []container `yaml:"initContainers"`
				Containers     []container `yaml:"containers"`
				Volumes        []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func manifests(t *testing.T) []manifest {
	t.Helper()
	b, err := os.ReadFile("daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []manifest
	for {
		var m manifest
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
			t.Errorf("document %d lacks apiVersion, kind or name: %+v", len(out)+1, m.Metadata)
		}
		out = append(out, m)
	}
	return out
}

// Keys of the Kubernetes API objects this manifest uses (core/v1 PodSpec,
// Container, SecurityContext; apps/v1 DaemonSetSpec): a misspelt field is
// an error here, as it is for kubectl apply --validate=strict.
var k8sKeys = map[string][]string{
	"daemonset.spec": {"selector", "template", "updateStrategy", "minReadySeconds", "revisionHistoryLimit"},
	"pod.spec": {"serviceAccountName", "automountServiceAccountToken", "hostNetwork", "dnsPolicy", "nodeSelector",
		"terminationGracePeriodSeconds", "securityContext", "initContainers", "containers", "volumes", "tolerations",
		"affinity", "priorityClassName", "hostPID", "hostIPC"},
	"container": {"name", "image", "imagePullPolicy", "command", "args", "env", "envFrom", "ports", "readinessProbe",
		"livenessProbe", "startupProbe", "resources", "securityContext", "volumeMounts", "workingDir", "lifecycle"},
	"container.securityContext": {"allowPrivilegeEscalation", "readOnlyRootFilesystem", "runAsUser", "runAsGroup",
		"runAsNonRoot", "capabilities", "privileged", "seccompProfile", "procMount"},
	"pod.securityContext": {"runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "seccompProfile", "supplementalGroups", "sysctls"},
}

func checkKeys(t *testing.T, where string, m map[string]any, kind string) {
	t.Helper()
	for k := range m {
		if !slices.Contains(k8sKeys[kind], k) {
			t.Errorf("%s: unknown field %s", where, k)
		}
	}
}

// TestManifestFields: no misspelt field in the DaemonSet.
func TestManifestFields(t *testing.T) {
	b, err := os.ReadFile("daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if doc["kind"] != "DaemonSet" {
			continue
		}
		spec := doc["spec"].(map[string]any)
		checkKeys(t, "spec", spec, "daemonset.spec")
		pod := spec["template"].(map[string]any)["spec"].(map[string]any)
		checkKeys(t, "pod spec", pod, "pod.spec")
		checkKeys(t, "pod securityContext", pod["securityContext"].(map[string]any), "pod.securityContext")
		for _, list := range []string{"initContainers", "containers"} {
			cs, _ := pod[list].([]any)
			for _, c := range cs {
				cm := c.(map[string]any)
				checkKeys(t, list+" "+cm["name"].(string), cm, "container")
				if sc, ok := cm["securityContext"].(map[string]any); ok {
					checkKeys(t, list+" "+cm["name"].(string)+" securityContext", sc, "container.securityContext")
				}
			}
		}
		return
	}
	t.Fatal("no DaemonSet")
}

// TestDaemonSet: host network, the two capture capabilities and nothing
// else, non-root, probes on the metrics endpoint, config from the map.
func TestDaemonSet(t *testing.T) {
	ms := manifests(t)
	byKind := map[string]manifest{}
	for _, m := range ms {
		byKind[m.Kind] = m
		if m.Kind != "Namespace" && m.Metadata.Namespace != "nunchi" {
			t.Errorf("%s %s is not in namespace nunchi", m.Kind, m.Metadata.Name)
		}
	}
	for _, k := range []string{"Namespace", "ServiceAccount", "ConfigMap", "DaemonSet"} {
		if _, ok := byKind[k]; !ok {
			t.Fatalf("no %s", k)
		}
	}
	ds := byKind["DaemonSet"]
	if ds.APIVersion != "apps/v1" {
		t.Errorf("DaemonSet apiVersion %s", ds.APIVersion)
	}
	spec := ds.Spec.Template.Spec
	for k, v := range ds.Spec.Selector.MatchLabels {
		if ds.Spec.Template.Metadata.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod labels", k, v)
		}
	}
	if !spec.HostNetwork || spec.DNSPolicy != "ClusterFirstWithHostNet" {
		t.Errorf("hostNetwork %v, dnsPolicy %s", spec.HostNetwork, spec.DNSPolicy)
	}
	if spec.ServiceAccountName != byKind["ServiceAccount"].Metadata.Name {
		t.Errorf("service account %s", spec.ServiceAccountName)
	}
	if spec.SecurityContext.RunAsUser == 0 || !spec.SecurityContext.RunAsNonRoot {
		t.Errorf("pod runs as %d (runAsNonRoot %v)", spec.SecurityContext.RunAsUser, spec.SecurityContext.RunAsNonRoot)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers", len(spec.Containers))
	}
	c := spec.Containers[0]
	sc := c.SecurityContext
	if !slices.Equal(sc.Capabilities.Add, []string{"NET_RAW", "NET_ADMIN"}) || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities add %v drop %v", sc.Capabilities.Add, sc.Capabilities.Drop)
	}
	if sc.AllowPrivilegeEscalation == nil || !*sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be true: no_new_privs disables the image's file capabilities")
	}
	if !sc.ReadOnlyRootFilesystem {
		t.Error("root file system is writable")
	}
	for _, ic := range spec.InitContainers {
		if ic.SecurityContext.AllowPrivilegeEscalation == nil || *ic.SecurityContext.AllowPrivilegeEscalation ||
			!slices.Equal(ic.SecurityContext.Capabilities.Drop, []string{"ALL"}) || len(ic.SecurityContext.Capabilities.Add) > 1 {
			t.Errorf("init container %s: %+v", ic.Name, ic.SecurityContext)
		}
	}

	// Args: live, the config file from the map, the interface from env.
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = true
	}
	cfgFile := ""
	for i, a := range c.Args {
		if a == "-c" && i+1 < len(c.Args) {
			cfgFile = c.Args[i+1]
		}
		if strings.HasPrefix(a, "$(") && !env[strings.Trim(a, "$()")] {
			t.Errorf("argument %s names no env variable", a)
		}
	}
	if len(c.Args) == 0 || c.Args[0] != "live" || cfgFile == "" {
		t.Fatalf("args %v", c.Args)
	}
	cmName := ""
	for _, vm := range c.VolumeMounts {
		if strings.HasPrefix(cfgFile, vm.MountPath+"/") {
			for _, v := range spec.Volumes {
				if v.Name == vm.Name && v.ConfigMap != nil {
					cmName = v.ConfigMap.Name
				}
			}
			if !vm.ReadOnly {
				t.Errorf("config mount %s is writable", vm.MountPath)
			}
		}
	}
	cm := byKind["ConfigMap"]
	if cmName != cm.Metadata.Name {
		t.Fatalf("config %s is not mounted from the ConfigMap (%q)", cfgFile, cmName)
	}
	key := filepath.Base(cfgFile)
	if cm.Data[key] == "" {
		t.Fatalf("ConfigMap has no %s", key)
	}

	// The config loads, with the pod's NUNCHI_* variables applied the way
	// the sensor applies them (each must name a config key).
	dir := t.TempDir()
	for k, v := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var environ []string
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "NUNCHI_") {
			environ = append(environ, e.Name+"=node-1") // fieldRef: spec.nodeName
		}
	}
	cfg, err := app.LoadConfig(filepath.Join(dir, key), environ)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sensor != "node-1" {
		t.Errorf("sensor %q: NUNCHI_SENSOR did not apply", cfg.Sensor)
	}
	for _, f := range cfg.Rules.Files {
		if filepath.Dir(f) != filepath.Dir(cfgFile) || cm.Data[filepath.Base(f)] == "" {
			t.Errorf("rules file %s is not in the ConfigMap", f)
			continue
		}
		if _, err := rules.LoadFiles(filepath.Join(dir, filepath.Base(f))); err != nil {
			t.Error(err)
		}
	}
	// Probes reach the metrics endpoint on its port.
	port := 0
	for _, p := range c.Ports {
		if p.Name == "metrics" {
			port = p.ContainerPort
		}
	}
	if !strings.HasSuffix(cfg.Metrics.Listen, ":"+strconv.Itoa(port)) || port == 0 {
		t.Errorf("metrics listen %s, container port %d", cfg.Metrics.Listen, port)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("probes are not /readyz and /healthz")
	}
	for _, dir := range []string{cfg.Sinks.Kafka.SpoolDir} {
		writable := false
		for _, vm := range c.VolumeMounts {
			if strings.HasPrefix(dir, vm.MountPath+"/") && !vm.ReadOnly {
				writable = true
			}
		}
		if !writable {
			t.Errorf("%s is on the read-only root file system", dir)
		}
	}
}
