package clickhouse

import "strings"

// columnsOf reads the column list of a CREATE TABLE statement for table
// (tests only; the sink reads columns from the server).
func columnsOf(stmt, table string) []Column {
	head, body, ok := strings.Cut(stmt, " (\n")
	if !ok || !strings.HasSuffix(head, "."+table) {
		return nil
	}
	body, _, _ = strings.Cut(body, "\n) ENGINE")
	var out []Column
	for _, l := range strings.Split(body, ",\n") {
		f := strings.Fields(strings.TrimSpace(l))
		if len(f) >= 2 {
			out = append(out, Column{Name: f[0], Type: strings.Join(f[1:], " ")})
		}
	}
	return out
}
