// Markdown to DOM nodes, never through an HTML parser: every piece of model text ends up in a
// Text node, so markup in it (<img onerror=...>, <script>) shows as the characters it is.
// Links keep http(s) and mailto targets only; images become links (nothing loads by itself,
// so a reply cannot send the conversation anywhere through an image URL).
//
// The subset chat models write: paragraphs, headings, fenced code, block quotes, nested lists,
// rules, pipe tables; inline code, **strong**, *em*, ~~del~~, [links](url), <autolinks>, bare URLs.
import {h} from "./dom.js";

const FENCE = /^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}>/;
const ITEM = /^( {0,3})([-+*]|\d{1,9}[.)])(?:[ \t]+(.*)|[ \t]*)$/;
const TABLE_RULE = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;
const ESCAPABLE = /[!-/:-@[-`{-~]/;

const blank = (line) => !line.trim();
const indentOf = (line) => line.match(/^[ \t]*/)[0].replace(/\t/g, "    ").length;
const startsBlock = (line) => FENCE.test(line) || HEADING.test(line) || RULE.test(line)
  || QUOTE.test(line) || ITEM.test(line);

function dedent(line, columns) {
  let removed = 0;
  let i = 0;
  while (i < line.length && removed < columns && (line[i] === " " || line[i] === "\t")) {
    removed += line[i] === "\t" ? 4 : 1;
    i += 1;
  }
  return line.slice(i);
}

export function safeUrl(raw) {
  try {
    const url = new URL(raw.trim()); // absolute URLs only: a relative one stays text
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function link(href, children) {
  return h("a", {href, rel: "noopener noreferrer nofollow", target: "_blank"}, children);
}

// ---------------------------------------------------------------------------------- inline

function closingRun(text, run, from) {
  for (let i = text.indexOf(run, from); i >= 0; i = text.indexOf(run, i + 1)) {
    if (text[i - 1] !== run[0] && text[i + run.length] !== run[0]) return i;
    while (text[i + 1] === run[0]) i += 1;
  }
  return -1;
}

// [label](destination "title") starting at text[start] === "[": {label, url, end} or null.
function parseLink(text, start) {
  let depth = 0;
  let i = start;
  for (; i < text.length; i += 1) {
    if (text[i] === "\\") i += 1;
    else if (text[i] === "[") depth += 1;
    else if (text[i] === "]" && --depth === 0) break;
  }
  if (i >= text.length || text[i + 1] !== "(") return null;
  const label = text.slice(start + 1, i);
  let j = i + 2;
  while (text[j] === " ") j += 1;
  let url = "";
  if (text[j] === "<") {
    const close = text.indexOf(">", j);
    if (close < 0) return null;
    url = text.slice(j + 1, close);
    j = close + 1;
  } else {
    let parens = 0;
    for (; j < text.length && !/\s/.test(text[j]); j += 1) {
      if (text[j] === "(") parens += 1;
      else if (text[j] === ")" && --parens < 0) break;
      url += text[j];
    }
  }
  const title = text.slice(j).match(/^\s*(?:"[^"]*"|'[^']*')?\s*\)/);
  return title ? {label, url, end: j + title[0].length} : null;
}

// Emphasis with * _ ~: the closing run must be the same and hug the text (no space inside).
function emphasis(text, i) {
  const char = text[i];
  const size = char === "~" ? 2 : text[i + 1] === char ? 2 : 1;
  const run = char.repeat(size);
  if (char === "~" && text[i + 1] !== "~") return null;
  if (/\s/.test(text[i + size] || " ")) return null;
  if (char === "_" && /[\p{L}\p{N}]/u.test(text[i - 1] || "")) return null; // snake_case stays
  let close = i + size;
  for (;;) {
    close = size === 1 ? closingRun(text, run, close + 1) : text.indexOf(run, close + 1);
    if (close < 0) return null;
    if (/\s/.test(text[close - 1])) continue;
    if (char === "_" && /[\p{L}\p{N}]/u.test(text[close + size] || "")) continue;
    break;
  }
  const tag = char === "~" ? "del" : size === 2 ? "strong" : "em";
  return {element: inline(h(tag), text.slice(i + size, close)), end: close + size};
}

export function inline(parent, text) {
  let plain = "";
  const flush = () => {
    if (plain) parent.append(plain);
    plain = "";
  };
  const put = (node, end) => {
    flush();
    parent.append(node);
    return end;
  };
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    const rest = text.slice(i);
    let match;
    if (char === "\\" && ESCAPABLE.test(text[i + 1] || "")) {
      plain += text[i + 1];
      i += 2;
    } else if (char === "\n") {
      i = put(h("br"), i + 1);
    } else if (char === "`") {
      const run = rest.match(/^`+/)[0];
      const close = closingRun(text, run, i + run.length);
      if (close < 0) {
        plain += run;
        i += run.length;
      } else {
        let code = text.slice(i + run.length, close).replace(/\n/g, " ");
        if (/^ .*[^ ].* $/.test(code)) code = code.slice(1, -1);
        i = put(h("code", {}, code), close + run.length);
      }
    } else if ((char === "[" || (char === "!" && text[i + 1] === "[")) && (match = parseLink(text, i + (char === "!")))) {
      const href = safeUrl(match.url);
      const label = inline(h("span"), match.label).childNodes;
      if (!href) i = put(h("span", {}, ...label), match.end);
      else if (char === "!") i = put(link(href, [match.label || href, " (image)"]), match.end);
      else i = put(link(href, [...label]), match.end);
    } else if (char === "<" && (match = rest.match(/^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i)) && safeUrl(match[1])) {
      i = put(link(safeUrl(match[1]), [match[1]]), i + match[0].length);
    } else if ((char === "h" || char === "H") && !/[\p{L}\p{N}]/u.test(text[i - 1] || "")
               && (match = rest.match(/^https?:\/\/[^\s<>]+/i))) {
      const url = match[0].replace(/[.,;:!?'")\]*_~]+$/, "");
      const href = safeUrl(url);
      if (href) i = put(link(href, [url]), i + url.length);
      else {
        plain += url;
        i += url.length;
      }
    } else if ("*_~".includes(char) && (match = emphasis(text, i))) {
      i = put(match.element, match.end);
    } else {
      plain += char;
      i += 1;
    }
  }
  flush();
  return parent;
}

// ---------------------------------------------------------------------------------- blocks

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
  for (; j < lines.length && !blank(lines[j]) && lines[j].includes("|"); j += 1) body.append(row("td", cells(lines[j])));
  out.append(h("div", {class: "table-wrap"}, h("table", {}, h("thead", {}, row("th", head)), body)));
  return j;
}

function list(lines, i, out) {
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
    element.append(blocks(h("li"), content));
    let next = i;
    while (next < lines.length && blank(lines[next])) next += 1;
    const following = next < lines.length && lines[next].match(ITEM);
    if (!following || /\d/.test(following[2]) !== ordered) break;
    i = next;
  }
  out.append(element);
  return i;
}

function blocks(out, lines) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let match;
    if (blank(line)) {
      i += 1;
    } else if ((match = line.match(FENCE))) {
      const closing = new RegExp(`^ {0,3}${match[1][0] === "`" ? "`" : "~"}{${match[1].length},}[ \\t]*$`);
      const code = [];
      for (i += 1; i < lines.length && !closing.test(lines[i]); i += 1) code.push(lines[i]);
      i += 1; // the closing fence; a fence still open (a reply streaming in) runs to the end
      const language = /^[\w+#.-]{1,32}$/.test(match[2]) ? `language-${match[2]}` : null;
      out.append(h("pre", {}, h("code", {class: language}, code.join("\n"))));
    } else if ((match = line.match(HEADING))) {
      // The page's own headings are h1 and h2: a reply's # is an h3.
      out.append(inline(h(`h${Math.min(match[1].length + 2, 6)}`), (match[2] || "").trim()));
      i += 1;
    } else if (RULE.test(line)) {
      out.append(h("hr"));
      i += 1;
    } else if (QUOTE.test(line)) {
      const quoted = [];
      for (; i < lines.length && QUOTE.test(lines[i]); i += 1) quoted.push(lines[i].replace(/^ {0,3}> ?/, ""));
      out.append(blocks(h("blockquote"), quoted));
    } else if (ITEM.test(line)) {
      i = list(lines, i, out);
    } else if (line.includes("|") && TABLE_RULE.test(lines[i + 1] || "") && (match = table(lines, i, out)) >= 0) {
      i = match;
    } else {
      const paragraph = [line.trim()];
      for (i += 1; i < lines.length && !blank(lines[i]) && !startsBlock(lines[i]); i += 1) paragraph.push(lines[i].trim());
      out.append(inline(h("p"), paragraph.join("\n")));
    }
  }
  return out;
}

// A DocumentFragment holding `source` rendered.
export function renderMarkdown(source) {
  return blocks(document.createDocumentFragment(), String(source).replace(/\r\n?/g, "\n").split("\n"));
}
