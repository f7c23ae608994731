/**
 * Go's text/tabwriter (the subset docker's tables use: padchar ' ', no flags):
 * tab-terminated cells are aligned in columns; a column's width is its widest
 * cell plus padding, at least minwidth, decided per block of consecutive lines
 * that have that column; the text after a line's last tab is not aligned.
 * Widths count runes, as Go's does for UTF-8.
 */
export function tabwrite(text: string, minwidth: number, padding: number): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  // the last "line" is the text after the final newline: Go writes it as is
  const widths: number[] = [];
  let out = '';
  const runes = (s: string) => [...s].length;

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      cells.forEach((c, j) => {
        out += c;
        if (j < cells.length - 1 && j < widths.length) out += ' '.repeat(Math.max(0, widths[j]! - runes(c)));
      });
      if (i + 1 < lines.length) out += '\n';
    }
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let ln = line0; ln < line1; ln++) {
      if (column >= lines[ln]!.length - 1) continue;
      // a block of lines that have a cell in this column starts here
      writeLines(line0, ln);
      line0 = ln;
      let width = minwidth;
      for (; ln < line1; ln++) {
        const cells = lines[ln]!;
        if (column >= cells.length - 1) break;
        width = Math.max(width, runes(cells[column]!) + padding);
      }
      widths.push(width);
      format(line0, ln);
      widths.pop();
      line0 = ln;
      ln--; // the for loop's ln++ looks at the line that ended the block again
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out;
}
