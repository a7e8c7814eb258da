package docker

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/rules"
)

// TestDocsYAMLExamples: every ```yaml block of README.md and docs/*.md
// parses, and loads with the sensor's own loaders: a rules file (a block
// with lists: or allow:) with rules.LoadFiles, anything else as a config
// file with app.LoadConfig (strict: an unknown or misspelt key fails).
func TestDocsYAMLExamples(t *testing.T) {
	root := testutil.RepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	files = append(files, filepath.Join(root, "README.md"))
	block := regexp.MustCompile("(?ms)^```yaml\n(.*?)^```")
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range block.FindAllSubmatch(b, -1) {
			name := filepath.Base(f) + " block " + string(rune('1'+i))
			n++
			var top map[string]any
			if err := yaml.Unmarshal(m[1], &top); err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			tmp := filepath.Join(t.TempDir(), "example.yaml")
			if err := os.WriteFile(tmp, m[1], 0o644); err != nil {
				t.Fatal(err)
			}
			_, isRules := top["lists"]
			if _, ok := top["allow"]; ok {
				isRules = true
			}
			if isRules {
				if _, err := rules.LoadFiles(tmp); err != nil {
					t.Errorf("%s (rules): %v", name, err)
				}
				continue
			}
			if _, err := app.LoadConfig(tmp, nil); err != nil {
				t.Errorf("%s (config): %v", name, err)
			}
		}
	}
	if n < 3 {
		t.Errorf("only %d YAML examples found", n)
	}
}
