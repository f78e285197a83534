// The suite's result table: probe, expected, observed, pass/fail — printed at the end of the run.

export interface ProbeRow {
  probe: string;
  expected: string;
  observed: string;
  pass: boolean;
}

export class ProbeTable {
  readonly rows: ProbeRow[] = [];

  /** Records a row and returns whether it passed, so a test can assert on it. */
  add(probe: string, expected: string, observed: string, pass: boolean): boolean {
    this.rows.push({ probe, expected, observed: observed.replace(/\s+/g, " ").trim().slice(0, 160), pass });
    return pass;
  }

  render(): string {
    const head = ["probe", "expected", "observed", "result"];
    const body = this.rows.map((r) => [r.probe, r.expected, r.observed, r.pass ? "PASS" : "FAIL"]);
    const widths = head.map((h, i) => Math.min(90, Math.max(h.length, ...body.map((b) => b[i]!.length))));
    const line = (cells: string[]) => "| " + cells.map((c, i) => c.slice(0, widths[i]).padEnd(widths[i]!)).join(" | ") + " |";
    const sep = "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|";
    const passed = this.rows.filter((r) => r.pass).length;
    return [line(head), sep, ...body.map(line), "", `${passed}/${this.rows.length} rows pass`].join("\n");
  }
}
