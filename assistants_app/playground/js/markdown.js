// Markdown to DOM nodes, never through an HTML parser: `renderMarkdown(text)` gives a fragment for a
// stored reply; `new MarkdownStream(container)` draws a reply as it streams in, `append(delta)` at a
// time. Every piece of model text ends up in a Text node, so markup in it (<img onerror=...>,
// <script>) shows as the characters it is. Links keep http(s) and mailto targets only; images become
// links (nothing loads by itself, so a reply cannot send the conversation anywhere through an image).
//
// The subset chat models write: paragraphs, headings, fenced code, block quotes, nested lists,
// rules, pipe tables; inline code, **strong**, *em*, ~~del~~, [links](url), <autolinks>, bare URLs
// (markdown_inline.js). Linear in the text's length: a line is read once per level of quote or list
// it sits in (at most MAX_DEPTH), and no pattern backtracks over a line more than once.
import {h} from "./dom.js";
import {inline} from "./markdown_inline.js";

const FENCE = /^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)/; // and no backtick after it on the line
const QUOTE = /^ {0,3}>/;
const ITEM = /^( {0,3})([-+*]|\d{1,9}[.)])(?:[ \t]+(.*)|[ \t]*)$/;
const TABLE_RULE = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const MAX_DEPTH = 16; // quotes and lists inside each other; deeper, their markers are text

const blank = (line) => !line.trim();
const indentOf = (line) => line.match(/^[ \t]*/)[0].replace(/\t/g, "    ").length;

function fence(line) {
  const match = line.match(FENCE);
  return match && !line.includes("`", match[0].length) ? match : null;
}

// "# Title ##" -> [level, "Title"], or null. By hand: a pattern for it backtracks over white space.
function heading(line) {
  const match = line.match(/^ {0,3}(#{1,6})(?=[ \t]|$)/);
  if (!match) return null;
  let text = line.slice(match[0].length).trim();
  let hashes = text.length;
  while (hashes > 0 && text[hashes - 1] === "#") hashes -= 1;
  if (hashes > 0 && hashes < text.length && (text[hashes - 1] === " " || text[hashes - 1] === "\t")) {
    text = text.slice(0, hashes).trim();
  }
  return [match[1].length, text];
}

// ---, * * *, ___: three or more of one of them, with nothing but spaces and tabs between.
function rule(line) {
  let i = 0;
  while (line[i] === " " && i < 3) i += 1;
  const char = line[i];
  if (char !== "-" && char !== "*" && char !== "_") return false;
  let count = 0;
  for (; i < line.length; i += 1) {
    if (line[i] === char) count += 1;
    else if (line[i] !== " " && line[i] !== "\t") return false;
  }
  return count >= 3;
}

const startsBlock = (line) => fence(line) || heading(line) || rule(line) || QUOTE.test(line)
  || ITEM.test(line);

function dedent(line, columns) {
  let removed = 0;
  let i = 0;
  while (i < line.length && removed < columns && (line[i] === " " || line[i] === "\t")) {
    removed += line[i] === "\t" ? 4 : 1;
    i += 1;
  }
  return line.slice(i);
}

function cells(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|") && !row.endsWith("\\|")) row = row.slice(0, -1);
  return row.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

function table(lines, i, out) {
  const head = cells(lines[i]);
  const rule = cells(lines[i + 1]);
  if (head.length !== rule.length) return -1;
  const align = rule.map((cell) => (cell.endsWith(":") ? (cell.startsWith(":") ? "center" : "right") : null));
  const row = (tag, values) => h("tr", {}, align.map((side, k) =>
    inline(h(tag, {class: side ? `align-${side}` : null}), values[k] || "")));
  const body = h("tbody");
  let j = i + 2;
  for (; j < lines.length && !blank(lines[j]) && lines[j].includes("|"); j += 1) {
    body.append(row("td", cells(lines[j])));
  }
  out.append(h("div", {class: "table-wrap"}, h("table", {}, h("thead", {}, row("th", head)), body)));
  return j;
}

function list(lines, i, out, depth) {
  const ordered = /\d/.test(lines[i].match(ITEM)[2]);
  const element = h(ordered ? "ol" : "ul");
  const first = parseInt(lines[i].match(ITEM)[2], 10);
  if (ordered && first !== 1) element.setAttribute("start", String(first));
  while (i < lines.length) {
    const item = lines[i].match(ITEM);
    if (!item || /\d/.test(item[2]) !== ordered) break;
    const column = item[1].length + item[2].length + 1;
    const content = [item[3] || ""];
    i += 1;
    while (i < lines.length) {
      if (blank(lines[i])) {
        let next = i;
        while (next < lines.length && blank(lines[next])) next += 1;
        if (next >= lines.length || indentOf(lines[next]) < 2) break;
        content.push(...lines.slice(i, next).map(() => ""));
        i = next;
      } else if (indentOf(lines[i]) >= 2) {
        content.push(dedent(lines[i], column));
        i += 1;
      } else if (!startsBlock(lines[i])) {
        content.push(lines[i].trim()); // a lazy continuation of the item's paragraph
        i += 1;
      } else {
        break;
      }
    }
    element.append(blocks(h("li"), content, depth + 1));
    let next = i;
    while (next < lines.length && blank(lines[next])) next += 1;
    const following = next < lines.length && lines[next].match(ITEM);
    if (!following || /\d/.test(following[2]) !== ordered) break;
    i = next;
  }
  out.append(element);
  return i;
}

// What the block starting with `line` is: the first that fits, in this order.
function kindOf(line, depth) {
  if (fence(line)) return "fence";
  if (heading(line)) return "heading";
  if (rule(line)) return "rule";
  if (depth < MAX_DEPTH && QUOTE.test(line)) return "quote";
  if (depth < MAX_DEPTH && ITEM.test(line)) return "list";
  return "paragraph"; // or a table
}

// Renders the block that starts at lines[i] (not blank) into `out`; the index of the line after it.
function block(lines, i, out, depth) {
  const line = lines[i];
  const kind = kindOf(line, depth);
  let match;
  if (kind === "fence") {
    match = fence(line);
    const closing = new RegExp(`^ {0,3}${match[1][0] === "`" ? "`" : "~"}{${match[1].length},}[ \\t]*$`);
    const code = [];
    for (i += 1; i < lines.length && !closing.test(lines[i]); i += 1) code.push(lines[i]);
    // i is now the closing fence; a fence still open (a reply streaming in) runs to the end
    const language = /^[\w+#.-]{1,32}$/.test(match[2]) ? `language-${match[2]}` : null;
    out.append(h("pre", {}, h("code", {class: language}, code.join("\n"))));
    return i + 1;
  }
  if (kind === "heading") { // the page's own headings are h1 and h2: a reply's # is an h3
    const [level, text] = heading(line);
    out.append(inline(h(`h${Math.min(level + 2, 6)}`), text));
    return i + 1;
  }
  if (kind === "rule") {
    out.append(h("hr"));
    return i + 1;
  }
  if (kind === "quote") {
    const quoted = [];
    for (; i < lines.length && QUOTE.test(lines[i]); i += 1) {
      quoted.push(lines[i].replace(/^ {0,3}> ?/, ""));
    }
    out.append(blocks(h("blockquote"), quoted, depth + 1));
    return i;
  }
  if (kind === "list") return list(lines, i, out, depth);
  if (line.includes("|") && TABLE_RULE.test(lines[i + 1] || "") && (match = table(lines, i, out)) >= 0) {
    return match;
  }
  const paragraph = [line.trim()];
  for (i += 1; i < lines.length && !blank(lines[i]) && !startsBlock(lines[i]); i += 1) {
    paragraph.push(lines[i].trim());
  }
  out.append(inline(h("p"), paragraph.join("\n")));
  return i;
}

function blocks(out, lines, depth = 0) {
  let i = 0;
  while (i < lines.length) i = blank(lines[i]) ? i + 1 : block(lines, i, out, depth);
  return out;
}

// A DocumentFragment holding `source` rendered.
export function renderMarkdown(source) {
  return blocks(document.createDocumentFragment(), String(source).replace(/\r\n?/g, "\n").split("\n"));
}

// A reply drawn into `container` as it streams in: append(delta) as text arrives, drawn at the next
// frame (one drawing however many deltas came meanwhile); flush() draws what arrived at once.
//
// A block is finished once the lines that decide where it ends are complete (for a list, up to the
// line that starts the next block; for any other block, the line after it): no later text can change
// it, so it is drawn once and kept. A drawing renders again only the blocks still open, so a reply
// costs its length, not its length times its number of deltas. The result is what renderMarkdown()
// gives for the whole text.
export class MarkdownStream {
  constructor(container, onDraw = () => {}) {
    this.container = container;
    this.onDraw = onDraw;
    this.open = ""; // the source from the first line of the first open block
    this.drawn = []; // the open blocks' nodes
    this.frame = 0;
  }

  append(delta) {
    this.open += delta;
    this.frame ||= requestAnimationFrame(() => this.flush());
  }

  flush() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const heldBack = this.open.endsWith("\r") ? "\r" : ""; // maybe the first half of a \r\n
    const source = this.open.slice(0, this.open.length - heldBack.length).replace(/\r\n?/g, "\n");
    const lines = source.split("\n");
    const growing = lines.length - 1; // the last line may still grow
    const parts = [];
    for (let i = 0; i < lines.length;) {
      if (blank(lines[i])) {
        i += 1;
        continue;
      }
      const nodes = document.createDocumentFragment();
      const start = i;
      i = block(lines, i, nodes, 0);
      parts.push({start, end: i, list: kindOf(lines[start], 0) === "list", nodes});
    }
    const settled = (k) => (parts[k].list ? parts[k + 1]?.start : parts[k].end) < growing;
    let finished = 0;
    while (finished < parts.length && settled(finished)) finished += 1;
    this.drawn.forEach((node) => node.remove());
    parts.slice(0, finished).forEach((part) => this.container.append(part.nodes));
    this.drawn = parts.slice(finished).flatMap((part) => [...part.nodes.childNodes]);
    this.container.append(...this.drawn);
    if (finished) {
      const cut = finished < parts.length ? parts[finished].start : growing;
      this.open = lines.slice(cut).join("\n") + heldBack;
    }
    this.onDraw();
  }
}
