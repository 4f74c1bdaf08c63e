# table.awk - turns tests/bench/out/results.txt (lines of "kind key=value ...",
# written by run.sh and bench) into the markdown table run.sh prints.
function kv(line,   i, n, a, p, v) {
	delete f
	n = split(line, a, " ")
	for (i = 2; i <= n; i++) {
		p = index(a[i], "=")
		if (!p)
			continue
		v = substr(a[i], p + 1)
		f[substr(a[i], 1, p - 1)] = v ~ /^[-+]?[0-9.]+$/ ? v + 0 : v
	}
}
function sg(x) { return (x >= 0 ? "+" : "") x }
function verdict(ok) { return ok ? "PASS" : "FAIL" }
function row(m, base, val, add, ratio, range, goal, res) {
	printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", m, base, val, add, ratio, range, goal, res
}
{ kind = $1; kv($0) }
kind == "req" {
	c = f["cgi"]; w = f["name"]
	us[c, w] = f["us"]; add[c, w] = f["add"]; ratio[c, w] = f["ratio"]
	rng[c, w] = sg(f["add_min"]) " .. " sg(f["add_max"]) " us"
	flt[c, w] = f["flt"]; fadd[c, w] = f["flt_add"]
	cpu[c, w] = f["cpu_us"]; cadd[c, w] = f["cpu_add"]
	frng[c, w] = sg(f["flt_add_min"]) " .. " sg(f["flt_add_max"])
	n[c] = f["n"]
	if (w == "bare") label["bare"] = "bare late-EOF shape"
	if (w != "direct" && !((c, w) in seen)) { seen[c, w] = 1; order[c] = order[c] " " w }
}
kind == "mem" && f["name"] == "env" && f["procs"] == 0 { memenv = 1 }
kind == "mem" && ("proc" in f) {
	nm = f["name"] (f["proc"] == 0 ? "" : " (" f["proc"] ")")
	if (f["name"] == "cgiguard") nm = f["proc"] == 0 ? "cgiguard front" : "cgiguard keeper"
	mem[++nmem] = nm; rss[nmem] = f["rss_kb"]; pss[nmem] = f["pss_kb"]; priv[nmem] = f["private_kb"]
	text[nmem] = f["text_kb"]
	memcg[nmem] = (f["name"] == "cgiguard")
}
kind == "herd" { for (k in f) herd[k] = f[k] }
kind == "text" { textbytes = f["bytes"] }
kind == "size" { sizes = sizes (sizes ? ", " : "") f["name"] " " f["bytes"] " B (" f["link"] ")" }
kind == "bulk" && f["base_pipe"] == 0 { for (k in f) bulk[k] = f[k] }
kind == "bulk" && f["base_pipe"] > 0 { for (k in f) wide[k] = f[k] }
kind == "stream" { for (k in f) stream[k] = f[k] }
kind == "flood" { for (k in f) flood[k] = f[k] }
kind == "ab" {
	c = f["c"]; w = f["name"]; rps[c, f["round"], w] = f["rps"]
	over[c, w] += f["over40"]; abn[c, w] += f["n"]
	p50[c, w] = p50[c, w] (p50[c, w] == "" ? "" : "/") f["p50"]
	if (f["round"] > abr[c]) abr[c] = f["round"]
}
END {
	print "| measure | direct | measured | median added | median ratio | added min .. max | goal | |"
	print "|---|---|---|---|---|---|---|---|"
	split("static sh", cgis, " ")
	label["static"] = "static C CGI"; label["sh"] = "`/bin/sh -c :` CGI"
	for (ci = 1; ci <= 2; ci++) {
		c = cgis[ci]
		if (!((c, "direct") in us)) continue
		m = split(order[c], ws, " ")
		for (j = 1; j <= m; j++) {
			w = ws[j]
			goal = ""; res = ""
			row("request, " label[c] ", " n[c] " pairs: " w, us[c, "direct"] " us", us[c, w] " us",
			    sg(add[c, w]) " us", sprintf("%.2fx", ratio[c, w]), rng[c, w], goal, res)
		}
		if ((c, "bare") in add && add[c, "bare"] > 0) {
			qb = add[c, "cgiguard"] / add[c, "bare"]
			row("request, " label[c] ": cgiguard added / bare shape added", "", "", "", sprintf("%.2f", qb), "",
			    c == "static" ? "<= 1.15" : "", c == "static" ? verdict(qb <= 1.15) : "")
		}
		if ((c, "env") in add && add[c, "env"] > 0) {
			qe = add[c, "cgiguard"] / add[c, "env"]
			row("request, " label[c] ": cgiguard added / env added", "", "", "", sprintf("%.2f", qe), "",
			    "", "")
		}
		for (j = 1; j <= m; j++) {
			w = ws[j]
			goal = ""; res = ""
			if (w == "cgiguard" && c == "static") { goal = "<= +25 faults"; res = verdict(fadd[c, w] <= 25) }
			row("minor faults; CPU (user+sys), all processes, " label[c] ": " w,
			    flt[c, "direct"] "; " cpu[c, "direct"] " us", flt[c, w] "; " cpu[c, w] " us",
			    sg(fadd[c, w]) "; " sg(cadd[c, w]) " us", "", frng[c, w] " faults", goal, res)
		}
	}
	for (i = 1; i <= nmem; i++) {
		row("resident memory while the CGI runs: " mem[i], "", "Rss " rss[i] ", Pss " pss[i] ", private " priv[i] \
		    ", program text " text[i] " KiB", "", "", "", "", "")
	}
	if ("keepers" in herd)
		row("memory of " herd["requests"] " abandoned requests: " herd["keepers"] " cgiguard keepers", "",
		    sprintf("Pss %.1f MiB (Rss %.1f, private %.1f MiB)", herd["pss_kb"] / 1024, herd["rss_kb"] / 1024,
			herd["private_kb"] / 1024), "", "", "", "<= 40 MiB of Pss",
		    verdict(herd["keepers"] >= herd["requests"] && herd["pss_kb"] <= 40 * 1024))
	if (textbytes != "")
		row("program text (size): cgiguard", "", textbytes " B", "", "", "", "", "")
	if (memenv)
		row("resident memory: env", "", "no process of its own (execs the CGI)", "", "", "", "", "")
	if (sizes != "")
		row("binary size", "", sizes, "", "", "", "", "")
	if ("n" in bulk) {
		row("1 GiB stdout, wall, " bulk["n"] " pairs: cgiguard", bulk["base_wall_ms"] " ms", bulk["wall_ms"] " ms",
		    sprintf("%+.0f ms", bulk["wall_ms"] - bulk["base_wall_ms"]), sprintf("%.2fx", bulk["ratio"]),
		    sprintf("%.2fx .. %.2fx", bulk["ratio_min"], bulk["ratio_max"]), "<= 1.25x", verdict(bulk["ratio"] <= 1.25))
		row("1 GiB stdout, CPU of all processes: cgiguard", bulk["base_cpu_ms"] " ms", bulk["cpu_ms"] " ms",
		    sprintf("%+.0f ms", bulk["cpu_add"]), "", sprintf("%+.0f .. %+.0f ms", bulk["cpu_add_min"], bulk["cpu_add_max"]),
		    "<= +150 ms", verdict(bulk["cpu_add"] <= 150))
	}
	if ("n" in wide) {
		row("1 GiB stdout, wall, " wide["n"] " pairs: cgiguard vs direct on a " wide["base_pipe"] / 1024 " KiB pipe",
		    wide["base_wall_ms"] " ms", wide["wall_ms"] " ms",
		    sprintf("%+.0f ms", wide["wall_ms"] - wide["base_wall_ms"]), sprintf("%.2fx", wide["ratio"]),
		    sprintf("%.2fx .. %.2fx", wide["ratio_min"], wide["ratio_max"]), "", "")
		row("1 GiB stdout, CPU of all processes: cgiguard vs direct on a " wide["base_pipe"] / 1024 " KiB pipe",
		    wide["base_cpu_ms"] " ms", wide["cpu_ms"] " ms", sprintf("%+.0f ms", wide["cpu_add"]), "",
		    sprintf("%+.0f .. %+.0f ms", wide["cpu_add_min"], wide["cpu_add_max"]), "", "")
	}
	if ("lines" in stream)
		row("latency per line, 1 line / 10 ms, " stream["lines"] " line pairs: cgiguard", stream["base_lat_us"] " us",
		    stream["lat_us"] " us", sprintf("%+.1f us", stream["add"]), "",
		    sprintf("%+.0f .. %+.0f us", stream["add_min"], stream["add_max"]), "<= +30 us", verdict(stream["add"] <= 30))
	if ("n" in flood)
		row("1 GiB after abandonment, CPU of all processes, " flood["n"] " pairs: " flood["name"] " vs " flood["base"],
		    flood["base_cpu_ms"] " ms", flood["cpu_ms"] " ms", sprintf("%+.0f ms", flood["cpu_add"]),
		    sprintf("%.2fx", flood["ratio"]), sprintf("%.2fx .. %.2fx; %+.0f .. %+.0f ms", flood["ratio_min"],
			flood["ratio_max"], flood["cpu_add_min"], flood["cpu_add_max"]), "<= 1.15x", verdict(flood["ratio"] <= 1.15))
	aname["guarded"] = "cgiguard (#! line)"; aname["guarded-sh"] = "cgiguard (sh wrapper)"
	aname["timeout-sh"] = "timeout 60 (sh wrapper)"
	apache(4, "guarded guarded-sh timeout-sh")
	apache(1, "guarded")
}

# apache(C, NAMES): the rows for the ab -c C runs of each of NAMES.
function apache(c, names,   aw, n, j, w, k, q, lo, hi, a, b, t, r, med, d, v, rounds, goal) {
	rounds = abr[c]
	n = split(names, aw, " ")
	for (j = 1; j <= n && rounds; j++) {
		w = aw[j]
		goal = w == "guarded"
		k = 0; lo = ""; hi = ""
		for (r = 1; r <= rounds; r++) {
			q[++k] = rps[c, r, w] / rps[c, r, "direct"]
			if (lo == "" || q[k] < lo) lo = q[k]
			if (hi == "" || q[k] > hi) hi = q[k]
		}
		# median of k ratios (k is small: insertion sort)
		for (a = 2; a <= k; a++) for (b = a; b > 1 && q[b - 1] > q[b]; b--) { t = q[b]; q[b] = q[b - 1]; q[b - 1] = t }
		med = k % 2 ? q[(k + 1) / 2] : (q[k / 2] + q[k / 2 + 1]) / 2
		d = 0; v = 0
		for (r = 1; r <= rounds; r++) { d += rps[c, r, "direct"]; v += rps[c, r, w] }
		row("Apache prefork + mod_cgi, a 100-byte static CGI (not an application: see tests/servers/APPS.md), ab -c " c ", req/s, " rounds " rounds: " aname[w],
		    sprintf("%.0f", d / rounds), sprintf("%.0f", v / rounds), "", sprintf("%.2fx", med),
		    sprintf("%.2fx .. %.2fx", lo, hi), "", "")
		row("Apache, ab -c " c ", requests over 40 ms (median ms per round): " aname[w],
		    sprintf("%d of %d (%.1f%%; %s)", over[c, "direct"], abn[c, "direct"],
			100 * over[c, "direct"] / abn[c, "direct"], p50[c, "direct"]),
		    sprintf("%d of %d (%.1f%%; %s)", over[c, w], abn[c, w], 100 * over[c, w] / abn[c, w], p50[c, w]),
		    "", "", "", goal ? "none" : "", goal ? verdict(over[c, w] == 0) : "")
	}
}
