// The offline intent backend: a deterministic, high-level intent from the conversation's
// shape and its first request, in the format the LLM backends must follow. It lets the whole
// recipe run without a model; it is no substitute for LLM-written intents.

import { sqlString } from '../../core/db.js';

export const INTENT_PREFIX = 'You are a user chatting with an assistant language model to';

const GOALS: [RegExp, string][] = [
  [/\btranslat/i, 'get a piece of text translated into another language'],
  [/\b(code|coding|python|javascript|typescript|java|c\+\+|rust|golang|sql|regex|html|css|function|bug|compile|script|program|api|error:|exception)\b/i, 'get help with a programming task'],
  [/\b(solve|calculate|equation|integral|derivative|probability|math|maths|arithmetic)\b/i, 'work through a math problem'],
  [/\b(role ?play|roleplay|pretend|act as|let's play|game)\b/i, 'set up and play out an interactive role-play scenario'],
  [/\b(story|poem|song|lyrics|fiction|novel|chapter|script for|screenplay)\b/i, 'get a piece of creative writing written'],
  [/\b(write|rewrite|essay|letter|email|e-mail|article|paraphrase|summari[sz]e|summary|proofread|edit)\b/i, 'get help writing or editing a piece of text'],
  [/\b(recommend|suggest|ideas?|advice|should i|plan)\b/i, 'get suggestions and advice for something they are planning'],
  [/^\s*(what|how|why|who|when|where|which|is|are|can|does|do)\b|\?\s*$/i, 'learn about a topic they are curious about'],
];
const DEFAULT_GOAL = 'get help with a task they have in mind';

const intentFor = (goal: string) => `${INTENT_PREFIX} ${goal}. You follow up on the assistant's replies for as long as you need, and stop when you are done.`;

/**
 * The intent names the goal and whether the user follows up, never how many turns (or whether there is more than one): a turn
 * count in the intent would tell the model when to stop, which is what the termination
 * samples must teach it from the conversation itself.
 */
export function templateIntent(firstUserTurn: string): string {
  return intentFor(GOALS.find(([re]) => re.test(firstUserTurn))?.[1] ?? DEFAULT_GOAL);
}

// JavaScript's \s (WhiteSpace and LineTerminator), which RE2's \s ([\t\n\f\r ]) is not.
const JS_SPACE = String.raw`\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}`;

/**
 * A GOALS pattern in RE2 syntax (DuckDB's regexp_matches) that matches exactly the strings
 * the JavaScript one does. Without the u flag, JavaScript's /i folds ASCII letters only
 * (a non-ASCII character whose upper case is ASCII, like U+017F or U+212A, stays apart),
 * while RE2's (?i) folds by Unicode, so each letter becomes a class of its two cases. \b is
 * ASCII in both, ^ and $ are the ends of the text in both. Any other construct is refused
 * rather than translated by guess.
 */
export function jsPatternToRe2(re: RegExp): string {
  if (re.flags !== 'i') throw new Error(`template intent pattern ${String(re)}: only the i flag is translated`);
  const src = re.source;
  const fold = (c: string) => (/[a-z]/i.test(c) ? `${c.toLowerCase()}${c.toUpperCase()}` : c);
  let out = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\') {
      const e = src[++i]!;
      if (e === 's') out += `[${JS_SPACE}]`;
      else if (e === 'b' || /[+?()|.^$\\[\]*{}/-]/.test(e)) out += `\\${e}`;
      else throw new Error(`template intent pattern ${String(re)}: escape \\${e} is not translated`);
    } else if (c === '[') {
      const end = src.indexOf(']', i);
      const body = src.slice(i + 1, end);
      if (!/^[a-z]+$/i.test(body)) throw new Error(`template intent pattern ${String(re)}: class [${body}] is not translated`);
      out += `[${[...body].map(fold).join('')}]`;
      i = end;
    } else if (/[a-z]/i.test(c)) out += `[${fold(c)}]`;
    else if (/[0-9 :'\-()|?*+^$]/.test(c)) out += c;
    else throw new Error(`template intent pattern ${String(re)}: ${JSON.stringify(c)} is not translated`);
  }
  return out;
}

/**
 * templateIntent as a DuckDB expression over a text expression, so that the stage is one
 * COPY on all of DuckDB's threads instead of a JavaScript loop; held equal to templateIntent
 * by test/stages/template-intent.test.ts.
 */
export function templateIntentSql(textSql: string): string {
  const arms = GOALS.map(([re, goal]) => `WHEN regexp_matches(${textSql}, ${sqlString(jsPatternToRe2(re))}) THEN ${sqlString(intentFor(goal))}`);
  return `CASE ${arms.join(' ')} ELSE ${sqlString(intentFor(DEFAULT_GOAL))} END`;
}
