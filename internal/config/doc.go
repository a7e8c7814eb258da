// Package config is the machinery behind nunchi's configuration: strict YAML
// decoding into typed structs, environment overrides, validation, the
// effective-config dump and the key list the config reference is checked
// against. It knows no nunchi keys itself: the application composes its
// top-level struct from each package's Config, and this package works on any
// struct.
//
// # Contract
//
// A config struct maps to a YAML mapping through `yaml:"key"` field tags
// (yaml.v3 rules: an untagged field is its lower-cased name, "-" skips a
// field, `yaml:",inline"` flattens an embedded struct, a pointer to one, or
// a map that takes the keys no field claims). Fields may be scalars, structs,
// pointers, slices, arrays, maps (usually with string keys), any, yaml.Node,
// and types implementing yaml.Unmarshaler or encoding.TextUnmarshaler
// (netip.Addr, a compiled matcher…). [Duration] and [ByteSize] are the value
// types for times and sizes; time.Duration fields are read like Duration.
//
// The caller fills the struct with defaults and then calls, in order:
//
//	cfg := app.DefaultConfig()
//	err := config.Load(path, &cfg)                        // the file, strictly
//	err = config.ApplyEnv("NUNCHI", os.Environ(), &cfg)   // NUNCHI_CAPTURE_SHARDS=4
//	// command-line flags last
//	err = config.Validate(&cfg)                           // every Validate() error
//
// [Decode] (and [Load]) walk a yaml.Node tree against the struct, so every
// problem is reported with the file, line and key path, and all problems
// are reported at once, sorted by line:
//
//	rules.yaml:7: capture.bogus_key: unknown key (known keys: interfaces, shards, fanout, bpf)
//	config.yaml:3: capture.shards: cannot use "abc" as integer
//	config.yaml:9: lists[2].id: duplicate key (first at line 8)
//
// Decoding rules:
//   - Unknown keys, duplicate keys, wrong types, out-of-range numbers and a
//     document that is not a mapping are errors. Quoted numbers are strings
//     ("4" is not an integer); unquoted yes/no/on/off are booleans.
//   - Keys absent from the document keep what out held (the defaults).
//     Present keys replace scalars and lists whole; nested structs, pointed-to
//     structs and existing map entries are decoded into, so their unset keys
//     keep their defaults too. New list items start from their zero value.
//   - "key:" with no value (null) sets pointers, slices, maps and any to nil
//     and leaves other values alone.
//   - An empty document, or one holding only comments, is valid and changes
//     nothing. A file holds one document.
//   - Anchors, aliases and merge keys ("<<: *base") work; expansion is
//     bounded, and an alias inside its own anchor is an error.
//   - No input makes Decode panic (FuzzDecode). On error, out may be partly
//     updated and should be discarded.
//
// Errors are [*Error] values joined with errors.Join; each has the source,
// line, key path and cause, so a caller can print them one per line or pick
// them apart. At most 100 are reported per call.
//
// [Marshal] renders a config back (keys in struct order, durations and sizes
// in human form) and [Decode] reads its output back to an equal value. [Keys]
// lists every key with its Go type, default and `doc:"…"` tag, so the config
// reference can be generated from, or tested against, the structs.
//
// # Concurrency and ownership
//
// All functions are safe for concurrent use, on distinct out values. The
// package keeps one cache, of struct layouts per type, shared and
// synchronised. Nothing returned aliases the caller's data except what is
// decoded into out; Marshal's bytes and Keys' slice belong to the caller.
// Decode keeps no reference to data.
package config
