// Reads the runs recorded by run.sh, evaluates each scenario from the checks.json the runner wrote, applies
// expected-failures-<version>.yml, prints a markdown table and exits 1 on any unexpected failure or stale entry.
//
// A scenario passes when the runner exited 0 (no FAILURE/WARNING check, no timeout, and a zero client exit
// code unless the scenario allows client errors), checks.json exists, no check id ended FAILURE or WARNING,
// and every scenario-specific check that required-checks.json lists for it ended SUCCESS (a scenario it does
// not list fails, so a new suite version cannot pass vacuously). Checks are compared per distinct id (worst status wins), so the counts do not depend on how many
// MCP requests the client happened to make.
//
// Usage: node report.mjs <runs.tsv> <conformance folder> <elapsed seconds>
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const [runsFile, folder, elapsed] = process.argv.slice(2);
const rank = { FAILURE: 4, WARNING: 3, SUCCESS: 2, INFO: 1, SKIPPED: 0 };
const required = JSON.parse(readFileSync(join(folder, 'required-checks.json'), 'utf8'));

function findChecks(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      const found = findChecks(path);
      if (found) return found;
    } else if (entry === 'checks.json') {
      return path;
    }
  }
  return undefined;
}

function loadExpected(version) {
  const file = join(folder, `expected-failures-${version}.yml`);
  if (!existsSync(file)) return { file: undefined, names: new Map(), problems: [] };
  const doc = parse(readFileSync(file, 'utf8')) ?? {};
  const names = new Map();
  const problems = [];
  for (const name of doc.client ?? []) {
    const reason = doc.reasons?.[name];
    if (typeof reason !== 'string' || reason.trim() === '') problems.push(`${name}: listed without a reason`);
    names.set(String(name), reason ?? '');
  }
  for (const name of Object.keys(doc.reasons ?? {})) {
    if (!names.has(name)) problems.push(`${name}: has a reason but is not listed under client`);
  }
  return { file, names, problems };
}

const runs = readFileSync(runsFile, 'utf8').split('\n').filter(Boolean).map(line => {
  const [version, scenario, rc, ms, dir] = line.split('\t');
  const checksPath = findChecks(dir);
  const byId = new Map();
  if (checksPath) {
    for (const check of JSON.parse(readFileSync(checksPath, 'utf8'))) {
      const previous = byId.get(check.id);
      if (!previous || rank[check.status] > rank[previous.status]) byId.set(check.id, check);
    }
  }
  const checks = [...byId.values()];
  const passed = checks.filter(c => c.status === 'SUCCESS');
  const failed = checks.filter(c => c.status === 'FAILURE' || c.status === 'WARNING');
  const missing = Array.isArray(required[scenario])
    ? required[scenario].filter(id => byId.get(id)?.status !== 'SUCCESS' && !failed.some(c => c.id === id))
    : ['(no required checks listed in required-checks.json)'];
  const ok = Number(rc) === 0 && checksPath !== undefined && failed.length === 0 && missing.length === 0;
  return { version, scenario, rc: Number(rc), ms: Number(ms), dir, checksPath, passed, failed, missing, ok };
});

const versions = [...new Set(runs.map(r => r.version))];
const scenarios = [...new Set(runs.map(r => r.scenario))];
const expected = Object.fromEntries(versions.map(v => [v, loadExpected(v)]));
let exitCode = 0;
const notes = [];

function why(run) {
  if (!run.checksPath) return run.rc === 124 || run.rc === 137 ? 'outer timeout, no results' : `runner rc ${run.rc}, no results`;
  const reasons = run.failed.map(c => `${c.id}${c.status === 'WARNING' ? ' (warning)' : ''}`);
  if (run.missing.length > 0) reasons.push(`not observed: ${run.missing.join(', ')}`);
  return reasons.length > 0 ? reasons.join(', ') : `client/runner exit code ${run.rc}`;
}

function cell(run) {
  if (!run) return '—';
  const counts = `${run.passed.length} passed, ${run.failed.length} failed`;
  const listed = expected[run.version].names.has(run.scenario);
  if (run.ok && !listed) return `✅ ${counts}`;
  if (run.ok && listed) {
    exitCode = 1;
    notes.push(`${run.version} ${run.scenario}: passes but is listed in expected-failures-${run.version}.yml (stale entry, remove it)`);
    return `❗ ${counts} (stale expected failure)`;
  }
  if (listed) return `⚠️ ${counts} — expected failure: ${why(run)}`;
  exitCode = 1;
  return `❌ ${counts} — ${why(run)}`;
}

const lines = [];
lines.push(`| Scenario | ${versions.join(' | ')} |`);
lines.push(`|---|${versions.map(() => '---').join('|')}|`);
for (const scenario of scenarios) {
  const cells = versions.map(v => cell(runs.find(r => r.version === v && r.scenario === scenario)));
  lines.push(`| \`${scenario}\` | ${cells.join(' | ')} |`);
}
lines.push('');
for (const version of versions) {
  const mine = runs.filter(r => r.version === version);
  const passing = mine.filter(r => r.ok).length;
  const allowed = mine.filter(r => !r.ok && expected[version].names.has(r.scenario)).length;
  const seconds = (mine.reduce((s, r) => s + r.ms, 0) / 1000).toFixed(1);
  lines.push(`- ${version}: ${passing}/${mine.length} scenarios passed` +
    (allowed > 0 ? `, ${allowed} listed in expected-failures-${version}.yml` : '') + ` (${seconds} s)`);
  for (const problem of expected[version].problems) {
    exitCode = 1;
    notes.push(`${version}: expected-failures file: ${problem}`);
  }
}
lines.push(`- Total time (install, build, all runs): ${elapsed} s`);
console.log(lines.join('\n'));

const failures = runs.filter(r => !r.ok);
if (failures.length > 0) {
  console.log('\nDetails of failing scenarios:');
  for (const run of failures) {
    const reason = expected[run.version].names.get(run.scenario);
    console.log(`- ${run.version} ${run.scenario} (rc ${run.rc})${reason ? ` — expected: ${reason}` : ''}`);
    for (const check of run.failed) console.log(`    ${check.status} ${check.id}: ${check.description}${check.errorMessage ? ` (${check.errorMessage})` : ''}`);
    console.log(`    results: ${run.dir}`);
  }
}
for (const note of notes) console.log(`! ${note}`);
process.exit(exitCode);
