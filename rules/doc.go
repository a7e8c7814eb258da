// Package rules is nunchi's blocked-site rule engine.
package rules
