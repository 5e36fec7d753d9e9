# Shared by the A/B scripts (.ci/ab, .ci/ab-e2e, .ci/instr); sourced, not run.

# base_worktree BASE: checks BASE out in a temporary worktree, $dir/base
# ($dir, a temporary directory, is removed on exit with the worktree).
base_worktree() {
	dir=$(mktemp -d)
	trap 'git worktree remove --force "$dir/base" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
	git worktree add -q --detach "$dir/base" "$1"
}

# metric_of SIDE METRIC: reads benchmark output and prints "SIDE value"
# for each Benchmark line that reports METRIC.
metric_of() {
	awk -v side="$1" -v metric="$2" '/^Benchmark/ { for (i = 2; i < NF; i++) if ($(i+1) == metric) print side, $i }'
}

# medians BASE METRIC: reads "A value" and "B value" lines and prints each
# side's median, number of rounds and range (A is BASE, B the working tree).
medians() {
	awk -v base="$1" -v metric="$2" '
	{ v[$1] = v[$1] " " $2; n[$1]++ }
	END {
		for (side in v) {
			split(substr(v[side], 2), xs, " "); m = n[side]
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (xs[j] + 0 < xs[i] + 0) { t = xs[i]; xs[i] = xs[j]; xs[j] = t }
			med = (m % 2) ? xs[(m + 1) / 2] : (xs[m / 2] + xs[m / 2 + 1]) / 2
			printf "%s %s: median %s %s of %d rounds (%s to %s)\n", side, (side == "A" ? base : "working tree"), med, metric, m, xs[1], xs[m]
		}
	}' | sort
}
