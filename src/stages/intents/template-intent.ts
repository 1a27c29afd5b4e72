// The offline intent backend: a deterministic, high-level intent from the conversation's
// shape and its first request, in the format the LLM backends must follow. It lets the whole
// recipe run without a model; it is no substitute for LLM-written intents.

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

/**
 * The intent names the goal and whether the user follows up, never how many turns (or whether there is more than one): a turn
 * count in the intent would tell the model when to stop, which is what the termination
 * samples must teach it from the conversation itself.
 */
export function templateIntent(firstUserTurn: string): string {
  const goal = GOALS.find(([re]) => re.test(firstUserTurn))?.[1] ?? 'get help with a task they have in mind';
  return `${INTENT_PREFIX} ${goal}. You follow up on the assistant's replies for as long as you need, and stop when you are done.`;
}
