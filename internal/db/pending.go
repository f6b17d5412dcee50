package db

import (
	"context"
	"fmt"
)

// KillPendingFences ends (KILL QUERY) the statements SET GLOBAL read_only
// or super_read_only (alone, or after the session's lock_wait_timeout, as
// FenceWithKill sends them) that other sessions of this account are still
// running: a killed drain's fence can wait on the server for running writes
// (up to lock_wait_timeout) and land after its undo. An account sees and
// may kill its own sessions without PROCESS or CONNECTION ADMIN. It returns
// how many it ended.
func (s *Server) KillPendingFences(ctx context.Context) (int, error) {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT ID FROM information_schema.PROCESSLIST
		WHERE ID <> CONNECTION_ID() AND USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)
		AND (INFO LIKE 'SET GLOBAL read_only%' OR INFO LIKE 'SET GLOBAL super_read_only%' OR INFO LIKE ?)`, fenceStatementLike)
	if err != nil {
		return 0, s.fail("list pending fences on", err)
	}
	var ids []uint64
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, s.fail("list pending fences on", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, s.fail("list pending fences on", err)
	}
	n := 0
	for _, id := range ids {
		if _, err := s.db.ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", id)); err != nil {
			// Gone in the meantime (finished): nothing to end.
			continue
		}
		n++
	}
	return n, nil
}
