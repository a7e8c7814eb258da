package config

import (
	"fmt"
	"os"
	"strings"
)

// ReadSecret returns the secret a password_file / password_env pair names:
// the file's first line, else the variable's value. what names the pair in
// errors ("sasl"). Never logged by callers.
func ReadSecret(what, file, env string) (string, error) {
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s.password_file: %w", what, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s.password_env: environment variable %s is not set", what, env)
		}
		return v, nil
	}
	return "", nil
}
