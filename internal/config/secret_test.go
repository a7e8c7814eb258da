package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecret(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(file, []byte("from-file\n"), 0o600)
	t.Setenv("TEST_NUNCHI_SECRET", "from-env")
	for _, c := range []struct {
		file, env, want, err string
	}{
		{file, "", "from-file", ""},
		{file, "TEST_NUNCHI_SECRET", "from-file", ""}, // the file wins
		{"", "TEST_NUNCHI_SECRET", "from-env", ""},
		{"", "", "", ""},
		{"", "TEST_NUNCHI_UNSET", "", "x.password_env: environment variable TEST_NUNCHI_UNSET is not set"},
		{file + ".missing", "", "", "x.password_file:"},
	} {
		got, err := ReadSecret("x", c.file, c.env)
		if got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ReadSecret(%q, %q) = %q, %v; want %q, %q", c.file, c.env, got, err, c.want, c.err)
		}
		if err != nil && strings.Contains(err.Error(), "from-") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}
