// Package systemd holds no code: it is the hardened systemd unit
// (nunchi.service), its sysusers.d entry and example config and rules.
// Its tests check the unit with systemd-analyze verify and security (when
// systemd-analyze is installed), assert the hardening directives the
// deployment guide promises (docs/deploy.md), and load the example config
// and rules with the sensor's own loaders.
package systemd
