package db

import (
	"context"
	"database/sql"
)

// QueryRowContext runs query on the pool, for checks that bring their own
// statement (check.Galera). The caller bounds it, on the server too.
func (s *Server) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, query, args...)
}
