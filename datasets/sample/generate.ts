// Seeded generator for the bundled sample data in datasets/sample/:
//   wildchat-sample.parquet   a small WildChat-1M-format file that exercises every filter and dedup branch
//   prism-conversations.jsonl a small PRISM conversations.jsonl with the branching-history edge cases
// All text is original, written for this project; no real WildChat or PRISM data is used.
// Run with `make sample` (builds, then `node dist/datasets/sample/generate.js datasets/sample`).
// The output is byte-identical across runs: one seeded PRNG, no clock, no Math.random.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { uniform as mulberry32 } from '../../src/core/seeded-random.js';

const SEED = 20251122;

// ---------------------------------------------------------------------------------------------
// PRNG

class Rng {
  private readonly f: () => number;
  constructor(seed: number) {
    this.f = mulberry32(seed);
  }
  next(): number {
    return this.f();
  }
  /** Integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.f() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.f() < p;
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('pick from an empty list');
    return xs[Math.floor(this.f() * xs.length)]!;
  }
  shuffle<T>(xs: readonly T[]): T[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.f() * (i + 1));
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
  /** k distinct items, in random order. */
  sample<T>(xs: readonly T[], k: number): T[] {
    return this.shuffle(xs).slice(0, k);
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

function fill(template: string, values: readonly string[]): string {
  return template.replace(/\{(\d)\}/g, (_, d: string) => {
    const v = values[Number(d)];
    if (v === undefined) throw new Error(`template ${template} needs value ${d}`);
    return v;
  });
}

function cross(...lists: (readonly string[])[]): string[][] {
  let out: string[][] = [[]];
  for (const l of lists) out = out.flatMap((prefix) => l.map((v) => [...prefix, v]));
  return out;
}

const one = (xs: readonly string[]): string[][] => xs.map((x) => [x]);

/** 2023-05-01T12:00:00.000Z -> 2023-05-01 12:00:00+00 */
function tsz(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ') + '+00';
}

// ---------------------------------------------------------------------------------------------
// WildChat: users

interface Country {
  name: string;
  states: (string | null)[];
  acceptLanguage: string;
  users: number;
}

const COUNTRIES: Country[] = [
  { name: 'United States', states: ['California', 'Texas', 'New York', 'Florida', 'Illinois', 'Washington', 'Ohio', 'Georgia', null], acceptLanguage: 'en-US,en;q=0.9', users: 14 },
  { name: 'United Kingdom', states: ['England', 'Scotland', 'Wales'], acceptLanguage: 'en-GB,en-US;q=0.9,en;q=0.8', users: 6 },
  { name: 'Canada', states: ['Ontario', 'British Columbia', 'Quebec', 'Alberta'], acceptLanguage: 'en-CA,en;q=0.9', users: 5 },
  { name: 'India', states: ['Maharashtra', 'Karnataka', 'Delhi', 'Tamil Nadu', null], acceptLanguage: 'en-IN,en-GB;q=0.9,en;q=0.8,hi;q=0.7', users: 6 },
  { name: 'Germany', states: ['Bavaria', 'Berlin', 'Hesse'], acceptLanguage: 'de-DE,de;q=0.9,en;q=0.8', users: 4 },
  { name: 'Australia', states: ['New South Wales', 'Victoria', 'Queensland'], acceptLanguage: 'en-AU,en;q=0.9', users: 3 },
  { name: 'Brazil', states: ['São Paulo', 'Rio de Janeiro', 'Minas Gerais'], acceptLanguage: 'pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7', users: 4 },
  { name: 'Philippines', states: ['Metro Manila', 'Central Visayas'], acceptLanguage: 'en-PH,en;q=0.9,fil;q=0.8', users: 3 },
  { name: 'Nigeria', states: ['Lagos', 'Federal Capital Territory'], acceptLanguage: 'en-NG,en;q=0.9', users: 3 },
  { name: 'France', states: ['Île-de-France', 'Auvergne-Rhône-Alpes'], acceptLanguage: 'fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7', users: 3 },
  { name: 'Spain', states: ['Madrid', 'Catalonia'], acceptLanguage: 'es-ES,es;q=0.9', users: 2 },
  { name: 'Mexico', states: ['Mexico City', 'Jalisco'], acceptLanguage: 'es-MX,es;q=0.9,en;q=0.8', users: 2 },
  { name: 'China', states: ['Guangdong', 'Zhejiang', 'Beijing'], acceptLanguage: 'zh-CN,zh;q=0.9', users: 3 },
  { name: 'Russia', states: ['Moscow', 'St.-Petersburg'], acceptLanguage: 'ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7', users: 2 },
];

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36 Edg/118.0.2088.46',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/115.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36',
];

interface User {
  hashedIp: string;
  country: string;
  state: string | null;
  header: { 'accept-language': string; 'user-agent': string };
  /** How likely this user is to be picked for another conversation. */
  weight: number;
}

function makeUsers(rng: Rng): User[] {
  const users: User[] = [];
  for (const c of COUNTRIES) {
    for (let k = 0; k < c.users; k++) {
      users.push({
        hashedIp: sha256(`userlm-data sample user ${users.length}`),
        country: c.name,
        state: rng.pick(c.states),
        header: { 'accept-language': c.acceptLanguage, 'user-agent': rng.pick(USER_AGENTS) },
        weight: rng.pick([0.5, 1, 1, 1, 2, 2, 3, 5]),
      });
    }
  }
  return users;
}

// ---------------------------------------------------------------------------------------------
// WildChat: text pools (all written for this project)

type Kind = 'code' | 'writing' | 'story' | 'math' | 'translate' | 'advice' | 'explain' | 'roleplay';

interface RequestSpec {
  kind: Kind;
  text: string;
  /** Alternatives for the {0}, {1} slots of text. */
  fills: string[][];
  /** Shown in the first reply when present. */
  snippet?: string;
  /** Drafts, one of which may be shown in the first reply. */
  passages?: string[];
  /** The whole first reply (role-play: the assistant opens the scene in character). */
  reply?: string;
}

const REQUESTS: RequestSpec[] = [
  // code
  {
    kind: 'code',
    text: 'How do I reverse a {0} in Python without using a built-in function?',
    fills: one(['string', 'list', 'sentence word by word', 'list of tuples', 'number digit by digit']),
    snippet: '```python\ndef reverse(items):\n    result = []\n    for i in range(len(items) - 1, -1, -1):\n        result.append(items[i])\n    return result\n```',
  },
  {
    kind: 'code',
    text: 'Write a JavaScript function that checks whether {0} is a valid {1}.',
    fills: cross(['a string', 'the user input'], ['email address', 'hex color code', 'US ZIP code', 'IPv4 address', 'date in YYYY-MM-DD format']),
    snippet: '```javascript\nfunction isValid(value) {\n  if (typeof value !== "string") return false;\n  const trimmed = value.trim();\n  return PATTERN.test(trimmed);\n}\n```',
  },
  {
    kind: 'code',
    text: 'My {0} and I cannot figure out why. What usually causes this?',
    fills: one([
      'Python script fails with "IndexError: list index out of range"',
      'React app shows "Cannot read properties of undefined (reading \'map\')"',
      'Java program throws a NullPointerException in the constructor',
      'Node.js server crashes with "EADDRINUSE: address already in use"',
      'recursive Python function hits "maximum recursion depth exceeded"',
    ]),
  },
  {
    kind: 'code',
    text: 'Write a SQL query that returns the top {0} customers by total order value{1}, using tables customers and orders.',
    fills: cross(['5', '10', '20'], ['', ' for the last 30 days', ' in each country']),
    snippet: '```sql\nSELECT c.id, c.name, SUM(o.total) AS order_value\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\nGROUP BY c.id, c.name\nORDER BY order_value DESC\nLIMIT 10;\n```',
  },
  {
    kind: 'code',
    text: 'Explain the difference between {0} in {1} with a short example.',
    fills: [
      ['let and const', 'JavaScript'],
      ['a list and a tuple', 'Python'],
      ['an interface and an abstract class', 'Java'],
      ['== and ===', 'JavaScript'],
      ['a struct and a class', 'C#'],
    ],
  },
  {
    kind: 'code',
    text: 'Can you write a bash script that {0}?',
    fills: one([
      'renames every .jpeg file in a folder to .jpg',
      'backs up my home directory to an external drive',
      'counts the lines in all .py files recursively',
      'deletes log files older than 14 days',
      'checks if a website is up and prints a warning if it is not',
    ]),
    snippet: '```bash\n#!/usr/bin/env bash\nset -euo pipefail\nfor f in ./*; do\n  [ -f "$f" ] || continue\n  echo "processing $f"\ndone\n```',
  },
  {
    kind: 'code',
    text: 'Help me write a regex that matches {0}.',
    fills: one(['phone numbers like (555) 123-4567', 'words that start with a capital letter', 'dates written as 12/31/2023', 'hashtags in a tweet', 'lines that end with a semicolon']),
  },
  {
    kind: 'code',
    text: 'I have a pandas DataFrame with columns {0}. How do I {1}?',
    fills: cross(['date, store, sales', 'user_id, event, timestamp', 'product, price, quantity'], ['get the monthly total per group', 'drop the rows with missing values', 'find the duplicate rows', 'plot it as a bar chart']),
  },
  {
    kind: 'code',
    text: 'Write a simple {0} in HTML and CSS, nothing fancy.',
    fills: one(['login form', 'pricing table with three plans', 'navigation bar that collapses on mobile', 'personal portfolio landing page', 'contact card with a photo']),
  },
  {
    kind: 'code',
    text: "What's the best way to learn {0} if I already know {1}?",
    fills: cross(['Rust', 'Go', 'TypeScript', 'Kotlin'], ['Python', 'JavaScript', 'Java']),
  },
  // writing
  {
    kind: 'writing',
    text: 'Write a polite email to my {0} asking {1}.',
    fills: [
      ['manager', 'for a one-week extension on the quarterly report'],
      ['landlord', 'to repair the broken heater in the living room'],
      ['professor', 'for feedback on my last assignment'],
      ['team lead', 'for a meeting to discuss my workload'],
      ['client', 'to confirm the delivery date for the new website'],
      ['manager', 'for a day off next Friday'],
    ],
    passages: [
      'Dear [Name],\n\nI hope you are doing well. I am writing to ask about the matter we discussed last week. I would be grateful if we could find a time to talk about it this week.\n\nThank you for your time and help.\n\nBest regards,\n[Your name]',
      'Subject: A quick request\n\nHi [Name],\n\nThank you for your support so far. I wanted to ask whether this would be possible. I am happy to talk it through on a short call; any time on Tuesday or Wednesday works for me.\n\nKind regards,\n[Your name]',
    ],
  },
  {
    kind: 'writing',
    text: 'Can you proofread this paragraph and fix the grammar? "{0}"',
    fills: one([
      'Me and my brother goes to the park every sunday, we likes to play football there untill it get dark.',
      'The company have announced that there profits was higher then expected, which suprised alot of investors.',
      'Their going to the conference next week but they doesnt know where is the hotel.',
      'Each of the students have to submit there essay before friday, otherwise they will lose points.',
      'I has been working hear for three year and I never seen a meeting so long like this one.',
    ]),
  },
  {
    kind: 'writing',
    text: 'Write a {0}-word essay about {1}.',
    fills: cross(['300', '500'], ['the impact of social media on teenagers', 'why public libraries still matter', 'the pros and cons of working from home', 'how cities can adapt to hotter summers', 'the history of the bicycle']),
  },
  {
    kind: 'writing',
    text: 'Write a cover letter for a {0} position. I have {1}.',
    fills: [
      ['junior data analyst', 'a degree in economics and one internship'],
      ['barista', 'two years of experience in a busy coffee shop'],
      ['graphic designer', 'a portfolio of freelance logo work'],
      ['warehouse supervisor', 'five years of logistics experience'],
      ['primary school teacher', 'a teaching certificate and volunteer tutoring experience'],
    ],
  },
  {
    kind: 'writing',
    text: 'Summarize the main ideas of {0} in five bullet points.',
    fills: one(['the theory of supply and demand', 'the French Revolution', 'the water cycle', 'stoic philosophy', 'how vaccines train the immune system']),
  },
  {
    kind: 'writing',
    text: 'Rewrite this message so it sounds more professional: "{0}"',
    fills: one([
      'hey, just checking if you saw my last email lol',
      'we messed up the order, sorry about that, will fix it soon',
      "i can't make the meeting, something came up",
      "the report is kinda late but it's almost done",
      'can u send me the files asap, thx',
    ]),
  },
  {
    kind: 'writing',
    text: 'Write a LinkedIn post announcing that I {0}.',
    fills: one(['just started a new job as a data analyst', 'finished my first marathon', 'graduated with a degree in nursing', 'opened a small bakery in my hometown', 'passed a cloud certification exam']),
    passages: [
      'Every big change starts with a small, slightly scary first step. Last month I took mine, and I want to share what I learned along the way.\n\nThank you to everyone who cheered me on. I could not have done it alone. Onward! 🚀',
    ],
  },
  {
    kind: 'writing',
    text: 'Give me a catchy title for a blog post about {0}.',
    fills: one(['budget travel in Southeast Asia', 'houseplants for beginners', 'remote team culture', 'meal prepping for busy parents', 'learning guitar after 40']),
  },
  {
    kind: 'writing',
    text: "Write a short speech for my {0}'s {1}.",
    fills: [
      ['best friend', 'wedding'],
      ['grandfather', '80th birthday'],
      ['colleague', 'retirement party'],
      ['sister', 'graduation'],
      ['team', 'end-of-year dinner'],
    ],
  },
  {
    kind: 'writing',
    text: 'Write a product review for {0} I bought last month.',
    fills: one(['a pair of noise-cancelling headphones', 'an electric kettle', 'a standing desk', 'a budget smartphone', 'a robot vacuum']),
  },
  // story
  {
    kind: 'story',
    text: 'Write a short story about {0} who {1}.',
    fills: cross(['a lighthouse keeper', 'a retired astronaut', 'a shy dragon', 'a robot that works in a bakery'], ['finds a message in a bottle', 'has to solve a mystery in one night', 'learns to make friends']),
    passages: [
      'The wind had been blowing for three days when Mara finally opened the old wooden box. Inside was a single photograph of a house she had never seen, and on the back, in her grandmother\'s handwriting, were the words "Go before the tide turns."',
      'Nobody in the town believed Felix when he said the clock tower had started running backwards. Then the baker woke up a day younger, and everyone began to listen.',
      'The little robot measured the flour twice, because the recipe said "a pinch of love" and it did not know how much that weighed.',
    ],
  },
  {
    kind: 'story',
    text: 'Write a poem about {0} in the style of a nursery rhyme.',
    fills: one(['Monday mornings', 'a cat who hates rain', 'the first snow of the year', 'a lost sock', 'a cup of coffee']),
    passages: [
      'Hickory, dickory, down it goes,\nFrom the top of my head to the tips of my toes,\nThe clock strikes one, the morning\'s begun,\nAnd off we go, we\'re out in the sun!',
      'Roses are red and the morning is grey,\nThe kettle is singing to start the new day,\nThe cat on the window is dreaming of fish,\nAnd breakfast is waiting, whatever you wish.',
    ],
  },
  {
    kind: 'story',
    text: 'Continue this story: "{0}"',
    fills: one([
      'The last train left the station without its driver, and nobody on board noticed until the lights went out.',
      'On the morning of her twelfth birthday, Nora found a key on her pillow that did not fit any lock in the house.',
      'The village had not seen a stranger in forty years, so when the tall woman with the umbrella arrived, everyone stared.',
      'Captain Ortiz checked the map twice. The island was exactly where it should be, but the island was not supposed to exist.',
    ]),
    passages: [
      'For a long moment, nobody moved. Then a small voice from the back asked the question everyone was thinking: "What happens now?" No one had an answer, but somewhere ahead, a light began to glow.',
      'The silence stretched on until it felt like a sound of its own. When at last someone spoke, it was only to say, "We should have listened to the warning."',
    ],
  },
  {
    kind: 'story',
    text: 'Write song lyrics about {0}, with a chorus that repeats.',
    fills: one(['a road trip with old friends', 'missing home', 'the end of summer', 'a city at night']),
  },
  {
    kind: 'story',
    text: 'Create a character for my D&D campaign: a {0} {1} with a tragic backstory.',
    fills: cross(['half-elf', 'dwarf', 'tiefling', 'gnome'], ['bard', 'ranger', 'cleric', 'rogue']),
  },
  // math
  {
    kind: 'math',
    text: 'Solve for x: {0}. Show the steps.',
    fills: one(['3x + 7 = 22', '2(x - 4) = 10', 'x^2 - 5x + 6 = 0', '5x - 3 = 2x + 9', 'x/4 + 2 = 7']),
  },
  {
    kind: 'math',
    text: 'What is the derivative of {0}?',
    fills: one(['x^3 * sin(x)', 'e^(2x) / x', 'ln(x^2 + 1)', 'sqrt(3x + 1)', 'cos(x)^2']),
  },
  {
    kind: 'math',
    text: 'If I roll two dice, what is the probability that {0}?',
    fills: one(['the sum is 7', 'both show the same number', 'at least one shows a 6', 'the sum is greater than 9', 'the product is even']),
  },
  {
    kind: 'math',
    text: 'Calculate the monthly payment on a {0} loan at {1}% interest over 5 years.',
    fills: cross(['$15,000', '$8,500', '$30,000'], ['4.5', '6', '7.2']),
  },
  {
    kind: 'math',
    text: 'Can you explain how to compute {0} step by step?',
    fills: one([
      'the standard deviation of 4, 8, 6, 5 and 3',
      'the area of a circle with radius 7',
      'compound interest on $1,000 at 5% for 3 years',
      'the average speed of a 120 km trip that took 1.5 hours',
      '20% of 345',
    ]),
  },
  // translate
  {
    kind: 'translate',
    text: 'Translate this into {0}: "{1}"',
    fills: cross(['Spanish', 'French', 'German', 'Italian'], [
      'Where is the nearest train station?',
      'I would like to book a table for two at eight.',
      'Thank you for your help, I really appreciate it.',
      'My flight has been delayed by three hours.',
    ]),
  },
  {
    kind: 'translate',
    text: 'How do you say "{0}" in {1} and how is it pronounced?',
    fills: cross(['good morning', 'nice to meet you', 'how much does this cost'], ['Korean', 'Portuguese', 'Dutch']),
  },
  // advice
  {
    kind: 'advice',
    text: 'Plan a {0}-day trip to {1} on a moderate budget.',
    fills: cross(['3', '5', '7'], ['Lisbon', 'Kyoto', 'Mexico City', 'Edinburgh', 'Vancouver']),
  },
  {
    kind: 'advice',
    text: 'Give me a recipe for {0} that takes less than 30 minutes.',
    fills: one(['a vegetarian curry', 'chicken fajitas', 'a lentil soup', 'a pasta dish with spinach', 'fried rice with leftover vegetables']),
  },
  {
    kind: 'advice',
    text: 'I want to start {0}. Can you make me a beginner plan for the first {1} weeks?',
    fills: cross(['running', 'strength training at home', 'swimming', 'yoga'], ['four', 'six', 'eight']),
  },
  {
    kind: 'advice',
    text: 'What should I pack for {0}?',
    fills: one(['a week of camping in the mountains', 'a business trip to Chicago in winter', 'a beach holiday with two toddlers', 'a ski weekend', 'a three-day music festival']),
  },
  {
    kind: 'advice',
    text: 'How can I {0}?',
    fills: one(['stop procrastinating when I work from home', 'sleep better during exam season', 'save money on groceries', 'get better at public speaking', 'keep my houseplants alive']),
  },
  {
    kind: 'advice',
    text: 'Suggest {0} gift ideas under $50 for {1}.',
    fills: cross(['five', 'ten'], ['my dad who likes fishing', 'a coworker who is leaving', 'a ten-year-old who loves science', 'a friend who is into painting']),
  },
  {
    kind: 'advice',
    text: "What's a good weekly meal plan for {0}?",
    fills: one(['a family of four on a tight budget', 'someone trying to eat more protein', 'a college student with only a microwave', 'a vegetarian runner']),
  },
  // explain
  {
    kind: 'explain',
    text: "Explain {0} like I'm five.",
    fills: one(['how the internet works', 'what inflation is', 'why the sky is blue', 'how airplanes stay in the air', 'what DNA does']),
  },
  {
    kind: 'explain',
    text: 'What is the difference between {0}?',
    fills: one(['weather and climate', 'a virus and a bacterium', 'stocks and bonds', 'RAM and storage', 'an alligator and a crocodile']),
  },
  {
    kind: 'explain',
    text: 'Why did {0}?',
    fills: one(['the Roman Empire fall', 'the dinosaurs go extinct', 'the 2008 financial crisis happen', 'the Titanic sink']),
  },
  {
    kind: 'explain',
    text: 'How does {0} work?',
    fills: one(['a heat pump', 'machine learning', 'a credit score', 'a vaccine', 'GPS']),
  },
  {
    kind: 'explain',
    text: 'Can you explain {0} in simple terms with an example?',
    fills: one(['opportunity cost', 'the placebo effect', 'recursion', 'photosynthesis', 'the Pythagorean theorem']),
  },
  {
    kind: 'explain',
    text: 'What are the main causes of {0} and what can be done about it?',
    fills: one(['traffic congestion in big cities', 'food waste', 'burnout at work', 'soil erosion']),
  },
  // role-play
  {
    kind: 'roleplay',
    text: "Let's play a game. You are {0} and I am {1}. Stay in character. Start the scene.",
    fills: [
      ['a detective in 1920s London', 'a witness who saw something strange'],
      ['the captain of a pirate ship', 'a new crew member'],
      ['a barista in a busy café', "a customer who can't decide"],
      ['a medieval innkeeper', 'a tired traveller'],
      ['a mission control operator', 'an astronaut with a problem'],
    ],
    reply: 'Alright, I\'m in character. *The scene opens on a quiet evening. I turn toward you as you come in, studying your face for a moment.* "You look like someone with a story to tell. Go on, I\'m listening."',
  },
  {
    kind: 'roleplay',
    text: 'Pretend you are a job interviewer for a {0} role and ask me questions one at a time.',
    fills: one(['junior software developer', 'marketing coordinator', 'nurse', 'project manager', 'customer support']),
    reply: 'Thank you for coming in today. Let\'s start with something simple: can you tell me a little about yourself and why you are interested in this role?',
  },
  {
    kind: 'roleplay',
    text: 'Act as my {0} tutor. Ask me a question and then correct my answer.',
    fills: one(['Spanish', 'chemistry', 'history', 'French', 'algebra']),
    reply: 'Great, let\'s begin with a warm-up question. Answer in your own words, and I will correct your answer and explain anything you missed. Ready? Here it goes: what is the most important idea from the last lesson you studied?',
  },
  {
    kind: 'roleplay',
    text: 'You are a text adventure game. I am standing {0}. Describe what I see.',
    fills: one(['at the entrance of an abandoned mine', 'on the deck of a ship in a storm', 'in a library where all the books are blank', 'at a crossroads in a dark forest']),
    reply: 'You look around. The air is cold and still, and the only sound is a slow drip of water somewhere nearby. To your left, a narrow path disappears into the shadows. To your right, something small glints on the ground.\n\nWhat do you do?',
  },
];

/** Follow-up user turns, each with the lead of the reply to it. */
const FOLLOW_UPS: [string, string][] = [
  ['Can you make it shorter?', 'Of course, here is a shorter version.'],
  ['Thanks! Can you give me another example?', 'Sure, here is another example.'],
  ["I don't understand the second part. Can you explain it more simply?", 'No problem, let me put the second part more simply.'],
  ['Can you put that in a table?', 'Here is the same information as a table:\n\n| Step | What to do |\n|---|---|\n| 1 | Start with the basics |\n| 2 | Practice regularly |\n| 3 | Review and adjust |'],
  ["That's too formal. Make it sound more casual.", 'Got it, here is a more relaxed version.'],
  ['What would you change if I were a complete beginner?', 'For a complete beginner, I would slow things down and skip the advanced parts.'],
  ['Can you add a few more details?', 'Sure, here are some more details.'],
  ['Is there a simpler way to do this?', 'Yes, there is a simpler approach.'],
  ['Why did you choose that approach?', 'Good question. I chose it because it is easy to follow and works in most cases.'],
  ['Can you check it again? I think there is a mistake.', 'You are right to double check. Looking at it again, one step needed a correction.'],
  ['Make it more fun, maybe add a joke.', 'Here is a lighter version with a little humor.'],
  ['OK. What should I do next?', 'A good next step is to try it out on a small scale.'],
  ['Can you write it as a numbered list?', 'Here it is as a numbered list:\n\n1. Start with the basics.\n2. Practice a little every day.\n3. Review what worked and adjust.'],
  ['How long would this take in practice?', 'In practice it usually takes a few days to a couple of weeks, depending on how much time you have.'],
  ['That works, thank you! One more thing: can you summarize everything in two sentences?', 'Here is a two-sentence summary.'],
  ['Could you use a different example, something about sports?', 'Sure, here is a sports example.'],
  ['Please continue.', 'Continuing from where I left off.'],
  ['Can you rewrite it for a 12-year-old?', 'Here is a version for a 12-year-old.'],
  ['What are the most common mistakes people make with this?', 'The most common mistakes are rushing the first step and skipping the review at the end.'],
  ['Give me three alternatives.', 'Here are three alternatives.'],
  ['Can you make the tone warmer?', 'Here is a warmer version.'],
  ['Now do the same thing but assume I have half the time.', 'With half the time, I would focus on the two most important parts.'],
  ['Is this accurate? Please double check the facts.', 'I checked the main points again, and they hold up, with one small clarification.'],
  ['Can you explain the last step again?', 'Sure, let me go through the last step again.'],
  ['add a title and a short intro', 'Here it is with a title and a short introduction.'],
  ['ok now make it longer and more detailed', 'Here is a longer, more detailed version.'],
  ['What are the pros and cons?', 'Here are the main pros and cons.'],
  ["hmm, that's not quite what I meant. I wanted something more specific to my situation.", 'Sorry about that. Let me make it more specific.'],
  ['Perfect. Can you give me a quick checklist I can print?', 'Here is a short checklist you can print.'],
  ['What could I read to learn more about this?', 'A good place to start is an introductory guide, and then practical examples.'],
  ['thanks. can you also explain why this works?', 'Sure, here is why it works.'],
];

/** Follow-ups for role-play, in character. */
const ROLEPLAY_FOLLOW_UPS: [string, string][] = [
  ['*I look around carefully.* What do I notice first?', '*You notice a faint light at the far end, flickering as if someone just moved past it.*'],
  ['I answer as best I can and wait for your reaction.', '"Not bad at all. Let\'s try something a little harder."'],
  ['*I hesitate.* Can you repeat that, please?', '"Of course. Take your time; there is no rush."'],
  ['What happens if I open the door?', '*The door swings open with a groan, revealing a narrow staircase that leads down into darkness.*'],
  ['I tell them everything I know.', '*They listen closely, nodding slowly.* "That changes things. Thank you for being honest."'],
  ["Let's skip ahead to the next morning.", '*The next morning arrives grey and quiet. Something has changed overnight, though it takes a moment to notice what.*'],
  ['ok, next question please', '"Here is the next one. Take a moment before you answer."'],
  ['*I laugh nervously.* Is that normal around here?', '"Normal? Nothing has been normal here for a long time."'],
  ['I pick up the strange object and examine it.', '*It is heavier than it looks, cold to the touch, with tiny symbols carved along one edge.*'],
  ['Can we pause for a second? How am I doing so far?', 'Stepping out of character for a moment: you are doing well. Your answers are clear, and you react naturally to what happens. Ready to continue?'],
  ['Stay in character and continue the scene.', '*The scene continues. A sudden knock at the door makes everyone fall silent.*'],
  ['I decide to leave and come back later.', '"Suit yourself. But don\'t wait too long, or the chance may be gone."'],
];

const followUps = (kind: Kind) => (kind === 'roleplay' ? ROLEPLAY_FOLLOW_UPS : FOLLOW_UPS);

const BODY: Record<Exclude<Kind, 'roleplay'>, string[]> = {
  code: [
    'The idea is to go through the input once and keep track of what you have already seen.',
    'I added comments so you can follow each step, and the edge cases, such as empty input, are handled first.',
    'This runs in linear time, which is fine even for fairly large inputs.',
    'Try it with a few small test cases before you plug it into the rest of your project.',
    'If your variable names are different, just rename them to match your code.',
    'A common pitfall here is an off-by-one error at the end of the loop, so double check the boundaries.',
  ],
  writing: [
    'I kept the tone friendly but professional, and the main point comes first.',
    'Here is a draft you can adjust to your own voice.',
    'I kept each paragraph short so it is easy to read on a phone.',
    'Feel free to replace the placeholders in brackets with your own details.',
    'The opening line is meant to catch attention, and the last sentence gives a clear next step.',
    'I avoided jargon so it works for a general audience.',
  ],
  story: [
    'The story opens in a quiet moment and builds toward a small surprise at the end.',
    'I gave the main character a clear wish and an obstacle, which keeps the plot moving.',
    'The ending is left a little open, so you can continue it if you like.',
    'I used short sentences in the tense parts to speed up the rhythm.',
    'I can change the mood, the length, or the point of view if you want.',
  ],
  math: [
    'First, isolate the unknown by moving the constant terms to one side.',
    'Then simplify both sides and check the result by substituting it back.',
    'It helps to write each step on its own line so mistakes are easy to spot.',
    'The key rule here is to do the same operation on both sides.',
    'If you plug the answer back into the original expression, both sides match, so the result is correct.',
  ],
  translate: [
    'Here is a natural translation, along with a more literal one for comparison.',
    'In everyday speech people often shorten this phrase, so both versions are common.',
    'The word order changes a little compared to English, which is normal.',
    'If you are speaking to someone older or in a formal setting, use the polite form.',
  ],
  advice: [
    'Start small and build the habit before adding more.',
    'Here is a simple plan you can adapt to your schedule.',
    "Try to keep the first week easy so you don't burn out.",
    'Prices and opening hours change, so double check them before you go.',
    'Write the plan down and tick off each step; it keeps you motivated.',
    'Most people find a routine easier to keep if it happens at the same time every day.',
  ],
  explain: [
    'The short version is that it comes down to a few simple ideas.',
    'A helpful way to picture it is to compare it with something from everyday life.',
    'Experts still debate some of the details, but the basic idea is well established.',
    'Once you see the pattern, many related things start to make sense as well.',
    'Several causes work together here rather than one single reason.',
  ],
};

const OPENERS = ['Sure!', 'Of course.', 'Great question.', 'Absolutely, here you go.', 'Happy to help.', "Here's a good starting point.", ''];
const CLOSERS = ["Let me know if you'd like any changes.", 'Would you like me to adjust anything?', 'I hope this helps!', 'Tell me if you want a shorter or longer version.', 'Feel free to ask if anything is unclear.', ''];

const TEMPLATE =
  'You are an expert e-commerce copywriter. Write a 50-word product description for {0} that highlights {1}, uses a friendly but confident tone, avoids the words "best" and "perfect", and ends with a short call to action. Output only the description, with no title and no quotation marks.';
const TEMPLATE_FILLS: [string, string][] = [
  ['a stainless steel water bottle', 'keeping drinks cold for 24 hours'],
  ['a foldable laptop stand', 'its lightweight aluminum design'],
  ['a bamboo cutting board', 'its knife-friendly surface'],
  ['wireless earbuds', 'the 30-hour battery life'],
  ['a linen throw blanket', 'its breathable, soft fabric'],
  ["a kids' science kit", 'the 20 safe experiments included'],
  ['a ceramic pour-over coffee set', 'the even, slow extraction'],
  ['a waterproof hiking backpack', 'the padded hip belt'],
  ['a self-watering plant pot', 'the water level indicator'],
  ['a set of resistance bands', 'the five resistance levels'],
];

/** Words a near-duplicate may swap (1 to 3 of them). */
const SYNONYMS: Record<string, string> = {
  write: 'draft',
  short: 'brief',
  simple: 'basic',
  explain: 'describe',
  help: 'assist',
  email: 'message',
  give: 'show',
  make: 'create',
  good: 'great',
  best: 'easiest',
  polite: 'courteous',
  function: 'method',
  example: 'sample',
  difference: 'distinction',
  steps: 'working',
  trip: 'holiday',
  beginner: 'starter',
  budget: 'price',
  main: 'key',
  ideas: 'suggestions',
  weekly: 'seven-day',
  catchy: 'memorable',
  learn: 'study',
  valid: 'correct',
  asking: 'requesting',
  story: 'tale',
  probability: 'chance',
  plan: 'program',
  recipe: 'quick recipe',
  returns: 'lists',
  fix: 'correct',
};

type Category =
  | 'ordinary'
  | 'templated'
  | 'non_english'
  | 'toxic'
  | 'redacted'
  | 'empty_user_turn'
  | 'exact_duplicate'
  | 'near_duplicate'
  | 'long_paste'
  | 'role_order'
  | 'unanswered';

type Role = 'user' | 'assistant';

interface Msg {
  role: Role;
  content: string;
  toxic?: boolean;
  redacted?: boolean;
}

interface FixedConv {
  language: string;
  messages: Msg[];
}

const u = (content: string, extra: Partial<Msg> = {}): Msg => ({ role: 'user', content, ...extra });
const a = (content: string): Msg => ({ role: 'assistant', content });

const NON_ENGLISH: FixedConv[] = [
  {
    language: 'Spanish',
    messages: [
      u('¿Me puedes ayudar a escribir un correo para pedir el viernes libre?'),
      a('¡Claro! Aquí tienes un borrador:\n\nAsunto: Solicitud de día libre\n\nHola Marta, quería pedirte el viernes libre por un asunto familiar. Dejaré mis tareas terminadas el jueves. Gracias de antemano.\n\n¿Quieres que lo haga más formal?'),
      u('Sí, un poco más formal, por favor.'),
      a('Por supuesto. Estimada Marta: le escribo para solicitar el viernes libre por motivos personales. Me aseguraré de que mis tareas queden cubiertas. Quedo atento a su respuesta. Saludos cordiales.'),
    ],
  },
  {
    language: 'Spanish',
    messages: [
      u('Explícame qué es la fotosíntesis de forma sencilla.'),
      a('La fotosíntesis es el proceso con el que las plantas fabrican su alimento. Usan la luz del sol, el agua y el dióxido de carbono del aire para producir azúcar, y liberan oxígeno. Por eso las plantas son tan importantes para la vida en la Tierra.'),
    ],
  },
  {
    language: 'Spanish',
    messages: [
      u('Dame tres ideas de cena rápida con arroz y huevo.'),
      a('1. Arroz frito con huevo y verduras.\n2. Arroz con tomate y huevo frito.\n3. Tortilla de arroz con queso.\n\nTodas se preparan en menos de veinte minutos.'),
    ],
  },
  {
    language: 'Chinese',
    messages: [
      u('请帮我写一段自我介绍，用于大学新生见面会。'),
      a('大家好！我叫小林，来自南方的一个小城市，专业是计算机科学。我平时喜欢打羽毛球和看科幻小说。很高兴认识大家，希望在接下来的四年里和大家一起进步！'),
    ],
  },
  {
    language: 'Chinese',
    messages: [
      u('Python里列表和元组有什么区别？'),
      a('主要区别是：列表可以修改，元组不能修改。列表用方括号表示，元组用圆括号表示。如果数据不需要改变，用元组更安全，也稍微快一些。'),
      u('能举个例子吗？'),
      a('当然。例如 colors = ["红", "绿"] 可以继续添加新的颜色，而 point = (3, 4) 表示一个坐标，创建后就不应该再改变。'),
    ],
  },
  {
    language: 'Chinese',
    messages: [
      u('周末想去杭州玩两天，有什么推荐的行程？'),
      a('第一天可以游览西湖，沿着湖边散步，下午去附近的茶园喝茶。第二天可以去西溪湿地，晚上在老街品尝小吃。记得穿一双舒适的鞋子。'),
    ],
  },
  {
    language: 'Russian',
    messages: [
      u('Напиши короткое поздравление с днём рождения для коллеги.'),
      a('Дорогая Анна! Поздравляем тебя с днём рождения! Желаем крепкого здоровья, интересных проектов и побольше поводов для радости. Спасибо, что ты всегда готова помочь!'),
    ],
  },
  {
    language: 'Russian',
    messages: [
      u('Как решить уравнение 2x + 5 = 17?'),
      a('Вычтем 5 из обеих частей: 2x = 12. Затем разделим на 2: x = 6. Проверка: 2 · 6 + 5 = 17. Ответ: x = 6.'),
      u('Спасибо! А если 3x - 4 = 11?'),
      a('Прибавим 4 к обеим частям: 3x = 15. Разделим на 3: x = 5.'),
    ],
  },
  {
    language: 'French',
    messages: [
      u("Peux-tu corriger cette phrase : « Je suis allé au magasin hier et j'ai acheter du pain. »"),
      a("Voici la phrase corrigée : « Je suis allé au magasin hier et j'ai acheté du pain. » Après l'auxiliaire avoir, on utilise le participe passé « acheté » et non l'infinitif."),
    ],
  },
  {
    language: 'French',
    messages: [
      u('Quels sont les avantages du télétravail ?'),
      a("Le télétravail permet de gagner du temps de trajet, d'avoir plus de souplesse dans son emploi du temps et souvent de mieux se concentrer. En revanche, il peut isoler et rendre plus difficile la séparation entre vie privée et vie professionnelle."),
    ],
  },
  {
    language: 'French',
    messages: [
      u("Écris un petit poème sur l'automne."),
      a("Les feuilles dansent dans le vent,\nLe ciel se couvre doucement,\nUne odeur de pluie et de pain chaud,\nL'automne arrive sans un mot."),
    ],
  },
  {
    language: 'German',
    messages: [
      u('Kannst du mir erklären, wie ein Kühlschrank funktioniert?'),
      a('Ein Kühlschrank transportiert Wärme von innen nach außen. Ein Kältemittel verdampft im Inneren und nimmt dabei Wärme auf. Der Kompressor verdichtet es, und an der Rückseite gibt es die Wärme wieder an die Raumluft ab.'),
    ],
  },
  {
    language: 'German',
    messages: [
      u('Schreib mir eine kurze Absage für ein Vorstellungsgespräch am Montag.'),
      a('Sehr geehrte Frau Becker,\n\nvielen Dank für die Einladung zum Vorstellungsgespräch am Montag. Leider muss ich den Termin absagen, da ich mich für eine andere Stelle entschieden habe. Ich wünsche Ihnen viel Erfolg bei der weiteren Suche.\n\nMit freundlichen Grüßen'),
    ],
  },
  {
    language: 'Portuguese',
    messages: [
      u('Como faço para começar a correr se nunca corri antes?'),
      a('Comece devagar: alterne um minuto de corrida com dois de caminhada durante vinte minutos, três vezes por semana. Aumente o tempo de corrida aos poucos e use um tênis confortável. Descanse bem entre os treinos.'),
    ],
  },
  {
    language: 'Portuguese',
    messages: [
      u('Me ajuda a escrever uma mensagem de agradecimento para minha professora?'),
      a('Claro! "Querida professora Ana, muito obrigado por toda a paciência e dedicação neste ano. Suas aulas me ensinaram muito mais do que a matéria. Levarei seus conselhos comigo. Com carinho, Lucas."'),
    ],
  },
];

/** The countries whose users write in each language. */
const LANGUAGE_COUNTRIES: Record<string, string[]> = {
  Spanish: ['Spain', 'Mexico'],
  Chinese: ['China'],
  Russian: ['Russia'],
  French: ['France'],
  German: ['Germany'],
  Portuguese: ['Brazil'],
};

const TOXIC: FixedConv[] = [
  {
    language: 'English',
    messages: [
      u("Write me a cover letter for a sales job. And don't give me that generic garbage like last time, you useless bot.", { toxic: true }),
      a("I'm sorry the last one didn't work for you. Tell me the company, the job title, and two or three things you're proud of, and I'll write something specific to you."),
    ],
  },
  {
    language: 'English',
    messages: [
      u('Why are you so dumb? I asked for a list of five countries in South America and you gave me four.', { toxic: true }),
      a('You are right, I miscounted. Here is the complete list: Brazil, Argentina, Chile, Peru, and Colombia.'),
    ],
  },
  {
    language: 'English',
    messages: [u('shut up and just answer the question. what is 15% of 80', { toxic: true }), a('15% of 80 is 12.')],
  },
  {
    language: 'English',
    messages: [
      u("This is the worst explanation I've ever read. Are you even trying? Explain recursion properly, idiot.", { toxic: true }),
      a('Let me try again with a concrete example. A recursive function solves a problem by calling itself on a smaller piece of the same problem, and it stops at a base case. For example, to count down from 3, you print 3 and then count down from 2, until you reach 0 and stop.'),
    ],
  },
  {
    language: 'English',
    messages: [
      u('Give me a workout plan I can do at home.'),
      a('Here is a simple plan: three days a week, do 3 rounds of 12 squats, 10 push-ups, 20 lunges, and a 30-second plank, with a minute of rest between rounds.'),
      u("That plan is stupid. Nobody has time for that crap. Give me something that takes 15 minutes, genius.", { toxic: true }),
      a('Fair enough. Try this 15-minute version: 5 minutes of brisk marching in place, then 2 rounds of 10 squats, 8 push-ups, and a 30-second plank, and finish with 2 minutes of stretching.'),
    ],
  },
];

const REDACTED: FixedConv[] = [
  {
    language: 'English',
    messages: [
      u('Write a formal complaint to my internet provider. My name is [REDACTED], my account number is [REDACTED], and the connection has been down for three days.', { redacted: true }),
      a('Dear Customer Service Team,\n\nI am writing to report that my internet connection has been down for three days. Please find my name and account number above. I would appreciate a technician visit as soon as possible and a credit for the days without service.\n\nSincerely,\n[Your name]'),
    ],
  },
  {
    language: 'English',
    messages: [
      u('Can you fix the formatting of my resume header? [REDACTED] | [REDACTED] | Phoenix, AZ | Data Analyst', { redacted: true }),
      a('Here is a cleaner layout:\n\n[Your Name]\nData Analyst | Phoenix, AZ\n[Phone] | [Email]\n\nKeeping your name on its own line makes it stand out.'),
    ],
  },
  {
    language: 'English',
    messages: [
      u('Write a friendly reminder to my tenant that rent is due on the 1st. Tell them to reach me at [REDACTED] or by email at [REDACTED] if there is a problem.', { redacted: true }),
      a('Hi [Tenant name],\n\nJust a friendly reminder that rent is due on the 1st of the month. If anything comes up, please reach out to me at the phone number or email address above.\n\nThanks, and have a great week!'),
    ],
  },
  {
    language: 'English',
    messages: [
      u("Help me write a message to my doctor's office about moving my appointment to next week."),
      a('Hello, I would like to reschedule my appointment to a day next week, if possible. Please let me know which times are available. Thank you!'),
      u('Add that my date of birth is [REDACTED] and my phone number is [REDACTED] so they can find my file.', { redacted: true }),
      a('Hello, I would like to reschedule my appointment to a day next week, if possible. For your records, my date of birth and phone number are listed below. Please let me know which times are available. Thank you!'),
    ],
  },
  {
    language: 'English',
    messages: [
      u("My email is [REDACTED]. Write an out-of-office reply that tells people to contact that address while I'm away until Monday.", { redacted: true }),
      a('Thank you for your message. I am out of the office until Monday with limited access to email. For anything urgent, please write to the address in my signature and I will get back to you as soon as I can.'),
    ],
  },
];

const EMPTY_TURN: FixedConv[] = [
  {
    language: 'English',
    messages: [
      u(''),
      a('It looks like your message came through empty. What would you like help with?'),
      u('Sorry, I meant to ask how to convert Celsius to Fahrenheit.'),
      a('Multiply the Celsius temperature by 9/5 and add 32. For example, 20 °C is 20 × 9/5 + 32 = 68 °F.'),
    ],
  },
  { language: 'English', messages: [u('   \n'), a('Hi! It seems your message was blank. How can I help you today?')] },
  {
    language: 'English',
    messages: [
      u('\u200B'),
      a('Hello! How can I help you today?'),
      u('whats the capital of australia'),
      a('The capital of Australia is Canberra, not Sydney as many people assume.'),
    ],
  },
  {
    language: 'English',
    messages: [
      u('Give me five ideas for a rainy Sunday afternoon with kids.'),
      a('1. Build a blanket fort and read stories inside.\n2. Bake cookies together.\n3. Make a treasure hunt around the house.\n4. Put on a puppet show.\n5. Do a simple science experiment with baking soda and vinegar.'),
      // A space and a no-break space: blank to a reader, not to \s alone.
      u(' \u00A0 '),
      a('It looks like your last message was empty. Would you like more ideas, or details on one of these?'),
    ],
  },
];

const ROLE_ORDER: FixedConv[] = [
  {
    // Two user messages in a row, twice: the user sent a correction before the reply came.
    language: 'English',
    messages: [
      u('Write a function that returns the second largest number in an array.'),
      u('in TypeScript please'),
      a('Here is a TypeScript version:\n\n```ts\nfunction secondLargest(nums: number[]): number | undefined {\n  let first = -Infinity;\n  let second = -Infinity;\n  for (const n of nums) {\n    if (n > first) {\n      second = first;\n      first = n;\n    } else if (n > second && n < first) {\n      second = n;\n    }\n  }\n  return second === -Infinity ? undefined : second;\n}\n```\n\nIt returns undefined when there is no second distinct value.'),
      u('It should also work if the array has duplicates like [5, 5, 3].'),
      u('never mind, I see that it already does. Can you add a couple of tests?'),
      a('Sure:\n\n```ts\nconsole.assert(secondLargest([5, 5, 3]) === 3);\nconsole.assert(secondLargest([1]) === undefined);\nconsole.assert(secondLargest([2, 9, 4]) === 4);\n```'),
    ],
  },
  {
    // Starts with the assistant.
    language: 'English',
    messages: [
      a("Hello! I'm your study assistant. What subject are we working on today?"),
      u('Biology. Can you quiz me on the parts of a cell?'),
      a('Great! First question: which part of the cell is known as its powerhouse, and why is it called that?'),
    ],
  },
];

const UNANSWERED: FixedConv[] = [
  { language: 'English', messages: [u('Can you help me plan a surprise birthday party for my wife? She loves jazz and Italian food.')] },
  {
    language: 'English',
    messages: [
      u("What's a good name for a golden retriever puppy?"),
      a('Some ideas: Maple, Biscuit, Sunny, Honey, or Walter.'),
      u('I like Biscuit. What are some good first commands to teach him?'),
    ],
  },
];

function longPastes(): FixedConv[] {
  const MIN = 41_000;
  const levels = ['INFO ', 'INFO ', 'INFO ', 'DEBUG', 'INFO ', 'WARN '];
  const paths = ['/api/orders', '/api/users/me', '/health', '/api/cart', '/api/search?q=shoes', '/static/app.js'];
  const log: string[] = [];
  let len = 0;
  for (let i = 0; len < MIN; i++) {
    const s = 10 + Math.floor(i / 7);
    const line = `2023-08-14T09:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}.${String((i * 137) % 1000).padStart(3, '0')}Z ${levels[i % levels.length]} worker-${i % 4} GET ${paths[i % paths.length]} status=${i % 23 === 0 ? 502 : 200} latency=${20 + ((i * 31) % 180)}ms heap=${300 + Math.floor(i / 3)}MB`;
    log.push(line);
    len += line.length + 1;
  }
  log.push('2023-08-14T10:02:51.004Z ERROR worker-2 FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory');

  const csv: string[] = ['date,store,region,revenue,customers'];
  len = 0;
  const regions = ['north', 'south', 'east', 'west'];
  for (let i = 0; len < MIN; i++) {
    const day = new Date(Date.UTC(2023, 0, 1) + Math.floor(i / 12) * 86_400_000).toISOString().slice(0, 10);
    const revenue = i === 517 ? 98_431.2 : 900 + ((i * 7919) % 2600) + (i % 10) / 10;
    const line = `${day},store_${String(i % 12).padStart(2, '0')},${regions[i % 4]},${revenue.toFixed(2)},${40 + ((i * 53) % 120)}`;
    csv.push(line);
    len += line.length + 1;
  }

  const code: string[] = ["import express from 'express';", 'const app = express();', 'app.use(express.json());', ''];
  len = 0;
  for (let i = 0; len < MIN; i++) {
    const block = [
      `app.post('/api/form/${i}', (req, res) => {`,
      `  const value = req.body.field_${i % 37};`,
      `  if (value === undefined || value === null || value === '') {`,
      `    return res.status(400).json({ error: 'field_${i % 37} is required' });`,
      '  }',
      `  const result = String(value).trim().slice(0, ${50 + (i % 9) * 10});`,
      `  console.log('form ${i} saved', result);`,
      '  return res.json({ ok: true, result });',
      '});',
      '',
    ].join('\n');
    code.push(block);
    len += block.length + 1;
  }
  code.push("app.listen(3000, () => console.log('listening on 3000'));");

  return [
    {
      language: 'English',
      messages: [
        u(`My Node server keeps crashing after about an hour. Here is the log from this morning:\n\n${log.join('\n')}\n\nWhat is going on?`),
        a('The last line is the key: the process ran out of heap memory. The heap value in your log grows steadily with every request and never drops, which points to a memory leak, for example a cache or an array that keeps growing. Take a heap snapshot after a few minutes and after half an hour and compare which objects keep increasing.'),
      ],
    },
    {
      language: 'English',
      messages: [
        u(`Can you find the outliers in this sales data?\n\n${csv.join('\n')}`),
        a('Most daily revenue values fall between about 900 and 3,500. One row stands out: a revenue of 98,431.20, which is more than twenty times the typical value. It is probably a data entry error, such as a missing decimal point, so check that record against the original receipts.'),
      ],
    },
    {
      language: 'English',
      messages: [
        u(`Please review this code and tell me how to make it cleaner:\n\n${code.join('\n')}`),
        a('All of these handlers repeat the same three steps: read a field, reject it when empty, and trim it to a maximum length. You can replace them with one parameterized route, for example app.post("/api/form/:id", ...), and a small table that maps each form id to its field name and length limit. That removes the duplication and makes the validation easy to test.'),
      ],
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// WildChat: composing conversations

interface Conv {
  category: Category;
  language: string;
  messages: Msg[];
  /** For duplicates: the row they copy. */
  originRow?: number;
  user: number;
}

const normKey = (userTurns: readonly string[]) => userTurns.map((t) => t.trim().toLowerCase().replace(/\s+/g, ' ')).join('\u001f');

function userTurns(m: readonly Msg[]): string[] {
  return m.filter((x) => x.role === 'user').map((x) => x.content);
}

function joinParts(parts: readonly string[]): string {
  return parts.filter((p) => p !== '').join(' ');
}

function firstReply(rng: Rng, req: RequestSpec): string {
  const kind = req.kind;
  if (req.reply !== undefined) return req.reply;
  if (kind === 'roleplay') throw new Error('a role-play request needs its own reply');
  const body = rng.sample(BODY[kind], rng.int(2, 3));
  let text = joinParts([rng.pick(OPENERS), ...body]);
  if (req.snippet !== undefined) text += `\n\n${req.snippet}`;
  else if (req.passages !== undefined) text += `\n\n${rng.pick(req.passages)}`;
  const closer = rng.pick(CLOSERS);
  return closer ? `${text}\n\n${closer}` : text;
}

function followReply(rng: Rng, kind: Kind, lead: string): string {
  if (kind === 'roleplay') return lead;
  const body = rng.sample(BODY[kind], rng.int(1, 2));
  const closer = rng.chance(0.4) ? rng.pick(CLOSERS) : '';
  const text = lead.includes('\n') ? `${lead}\n\n${joinParts(body)}` : joinParts([lead, ...body]);
  return closer ? `${text}\n\n${closer}` : text;
}

/** A first request plus `turns - 1` follow-ups, each answered. */
function compose(rng: Rng, req: RequestSpec, first: string, turns: number): Msg[] {
  const msgs: Msg[] = [u(first), a(firstReply(rng, req))];
  const pool = followUps(req.kind);
  if (turns - 1 > pool.length) throw new Error(`not enough follow-ups for ${turns} turns`);
  for (const [f, lead] of rng.sample(pool, turns - 1)) {
    msgs.push(u(f), a(followReply(rng, req.kind, lead)));
  }
  return msgs;
}

function templatedReply(product: string, feature: string): string {
  const noun = product.replace(/^(a|an|a set of) /, '');
  return `Meet the ${noun} that keeps up with your day. Thanks to ${feature}, it makes everyday routines simpler and a little more enjoyable. Thoughtfully designed, easy to care for, and built to last, it fits right into your home, office, or bag. Ready for an upgrade? Order yours today.`;
}

/** Turn counts of the ordinary conversations: heavy-tailed, most 1-3, four with 10+. */
const TURN_COUNTS: [number, number][] = [
  [1, 80], [2, 44], [3, 26], [4, 16], [5, 10], [6, 8], [7, 5], [8, 4], [9, 3], [10, 2], [11, 1], [12, 1],
];

const COUNTS: Record<Category, number> = {
  ordinary: TURN_COUNTS.reduce((s, [, n]) => s + n, 0),
  templated: TEMPLATE_FILLS.length,
  non_english: NON_ENGLISH.length,
  toxic: TOXIC.length,
  redacted: REDACTED.length,
  empty_user_turn: EMPTY_TURN.length,
  exact_duplicate: 6,
  near_duplicate: 6,
  long_paste: 3,
  role_order: ROLE_ORDER.length,
  unanswered: UNANSWERED.length,
};

/** Change one user turn of an exact duplicate in case or whitespace only. */
const DUP_VARIANTS: ((s: string) => string)[] = [
  (s) => s,
  (s) => s.replace(' ', '   '),
  (s) => s.toLowerCase(),
  (s) => `${s}  \n`,
  (s) => `  ${s}`,
  (s) => s.replace(/ /g, (m, off: number) => (off % 3 === 0 ? '\t' : m)).replace(/^./, (c) => c.toLowerCase()),
];

const WORD = /^([^A-Za-z-]*)([A-Za-z-]+)(.*)$/;

/** Positions of the words that nearDuplicate may swap. */
function swappable(words: readonly string[]): number[] {
  const out: number[] = [];
  words.forEach((w, i) => {
    const core = WORD.exec(w)?.[2];
    if (core !== undefined && SYNONYMS[core.toLowerCase()] !== undefined) out.push(i);
  });
  return out;
}

function nearDuplicate(rng: Rng, text: string): string | undefined {
  const words = text.split(' ');
  const candidates = swappable(words);
  if (candidates.length === 0) return undefined;
  const k = Math.min(candidates.length, rng.int(1, 3));
  for (const i of rng.sample(candidates, k)) {
    const w = words[i]!;
    const m = WORD.exec(w);
    if (!m) continue;
    const [, pre = '', core = '', post = ''] = m;
    let rep = SYNONYMS[core.toLowerCase()];
    if (rep === undefined) continue;
    if (core[0] !== undefined && core[0] !== core[0].toLowerCase()) rep = rep.charAt(0).toUpperCase() + rep.slice(1);
    words[i] = `${pre}${rep}${post}`;
  }
  return words.join(' ');
}

function buildWildchat(rng: Rng): { convs: Conv[]; users: User[] } {
  const users = makeUsers(rng);

  // Row order: the non-duplicate categories shuffled, then each duplicate inserted after row 40,
  // so that it always has earlier originals to copy.
  const base: Category[] = [];
  for (const [cat, n] of Object.entries(COUNTS) as [Category, number][]) {
    if (cat === 'exact_duplicate' || cat === 'near_duplicate') continue;
    for (let k = 0; k < n; k++) base.push(cat);
  }
  const slots = rng.shuffle(base);
  const dups = rng.shuffle([...Array<Category>(COUNTS.exact_duplicate).fill('exact_duplicate'), ...Array<Category>(COUNTS.near_duplicate).fill('near_duplicate')]);
  for (const d of dups) slots.splice(rng.int(40, slots.length), 0, d);

  const turnCounts = rng.shuffle(TURN_COUNTS.flatMap(([t, n]) => Array<number>(n).fill(t)));
  const fixed: Partial<Record<Category, FixedConv[]>> = {
    non_english: NON_ENGLISH,
    toxic: TOXIC,
    redacted: REDACTED,
    empty_user_turn: EMPTY_TURN,
    long_paste: longPastes(),
    role_order: ROLE_ORDER,
    unanswered: UNANSWERED,
  };
  const used: Partial<Record<Category, number>> = {};
  const keys = new Set<string>();
  const usedFills = new Set<string>();
  const reqOrder: number[] = [];
  const usedOrigins = new Set<number>();
  const reqOfRow = new Map<number, RequestSpec>();
  const convs: Conv[] = [];

  const nextRequest = (): [RequestSpec, string] => {
    // Round-robin over a shuffled request list, so every request gets used about equally.
    for (let tries = 0; tries < 10_000; tries++) {
      if (reqOrder.length === 0) reqOrder.push(...rng.shuffle(REQUESTS.map((_, i) => i)));
      const ri = reqOrder.shift()!;
      const req = REQUESTS[ri]!;
      const free = req.fills.map((_, fi) => fi).filter((fi) => !usedFills.has(`${ri}/${fi}`));
      if (free.length === 0) continue;
      const fi = rng.pick(free);
      usedFills.add(`${ri}/${fi}`);
      return [req, fill(req.text, req.fills[fi]!)];
    }
    throw new Error('ran out of distinct first requests');
  };

  for (const [row, cat] of slots.entries()) {
    const k = used[cat] ?? 0;
    used[cat] = k + 1;
    let conv: Conv;
    const fixedList = fixed[cat];
    if (fixedList !== undefined) {
      const fc = fixedList[k]!;
      conv = { category: cat, language: fc.language, messages: fc.messages, user: -1 };
    } else if (cat === 'ordinary') {
      const [req, first] = nextRequest();
      reqOfRow.set(row, req);
      conv = { category: cat, language: 'English', messages: compose(rng, req, first, turnCounts[k]!), user: -1 };
    } else if (cat === 'templated') {
      const [product, feature] = TEMPLATE_FILLS[k]!;
      conv = { category: cat, language: 'English', messages: [u(fill(TEMPLATE, [product, feature])), a(templatedReply(product, feature))], user: -1 };
    } else {
      // exact_duplicate / near_duplicate: copy an earlier ordinary conversation with 1-3 user turns.
      const candidates = convs
        .map((c, i) => [c, i] as const)
        .filter(([c, i]) => c.category === 'ordinary' && !usedOrigins.has(i) && userTurns(c.messages).length <= 3)
        .filter(([c]) => cat === 'exact_duplicate' || swappable(userTurns(c.messages)[0]!.split(' ')).length > 0)
        .map(([, i]) => i);
      const origin = rng.pick(candidates);
      usedOrigins.add(origin);
      const req = reqOfRow.get(origin)!;
      const turns = userTurns(convs[origin]!.messages);
      let messages: Msg[];
      if (cat === 'exact_duplicate') {
        const variant = DUP_VARIANTS[k % DUP_VARIANTS.length]!;
        const which = rng.int(0, turns.length - 1);
        const copied = turns.map((t, i) => (i === which ? variant(t) : t));
        messages = [];
        for (const [i, t] of copied.entries()) {
          const lead = followUps(req.kind).find(([f]) => f === turns[i])?.[1];
          messages.push(u(t), a(i === 0 ? firstReply(rng, req) : followReply(rng, req.kind, lead ?? 'Sure.')));
        }
      } else {
        const changed = nearDuplicate(rng, turns[0]!)!;
        messages = compose(rng, req, changed, rng.int(1, 2));
      }
      conv = { category: cat, language: 'English', messages, originRow: origin, user: -1 };
    }
    // Every conversation other than the intended duplicates has its own user-side text.
    if (cat !== 'exact_duplicate') {
      const key = normKey(userTurns(conv.messages));
      if (keys.has(key)) throw new Error(`unintended duplicate at row ${row} (${cat})`);
      keys.add(key);
    }
    convs.push(conv);
  }

  assignUsers(rng, convs, users);
  return { convs, users };
}

/** Each user gets 1 to 8 conversations; duplicates come from another user than their origin. */
function assignUsers(rng: Rng, convs: Conv[], users: User[]): void {
  const MAX = 8;
  const count = users.map(() => 0);
  const give = (row: number, user: number) => {
    convs[row]!.user = user;
    count[user]!++;
  };
  const weighted = (allowed: number[]): number => {
    const total = allowed.reduce((s, i) => s + users[i]!.weight, 0);
    let r = rng.next() * total;
    for (const i of allowed) {
      r -= users[i]!.weight;
      if (r < 0) return i;
    }
    return allowed[allowed.length - 1]!;
  };
  const rows = convs.map((_, i) => i);
  // Non-English conversations come from users in a matching country.
  for (const row of rows) {
    const c = convs[row]!;
    if (c.category !== 'non_english') continue;
    const allowed = users.map((_, i) => i).filter((i) => LANGUAGE_COUNTRIES[c.language]!.includes(users[i]!.country) && count[i]! < MAX);
    give(row, weighted(allowed));
  }
  // Everyone has at least one conversation.
  const open = rng.shuffle(rows.filter((r) => convs[r]!.user < 0 && convs[r]!.originRow === undefined));
  for (const [i] of users.entries()) {
    if (count[i]! > 0) continue;
    give(open.shift()!, i);
  }
  // The rest, originals before the duplicates that copy them.
  const rest = rows.filter((r) => convs[r]!.user < 0);
  rest.sort((x, y) => Number(convs[x]!.originRow !== undefined) - Number(convs[y]!.originRow !== undefined) || x - y);
  for (const row of rest) {
    const origin = convs[row]!.originRow;
    const avoid = origin === undefined ? -1 : convs[origin]!.user;
    const allowed = users.map((_, i) => i).filter((i) => count[i]! < MAX && i !== avoid);
    give(row, weighted(allowed));
  }
}

// ---------------------------------------------------------------------------------------------
// WildChat: rows

function modelAt(rng: Rng, ms: number): string {
  const gpt4 = rng.chance(0.25);
  if (ms < Date.UTC(2023, 5, 27)) return gpt4 ? 'gpt-4-0314' : 'gpt-3.5-turbo-0301';
  if (ms < Date.UTC(2023, 10, 6)) return gpt4 ? 'gpt-4-0314' : 'gpt-3.5-turbo-0613';
  if (ms < Date.UTC(2024, 0, 25)) return gpt4 ? 'gpt-4-1106-preview' : 'gpt-3.5-turbo-0613';
  return gpt4 ? 'gpt-4-0125-preview' : 'gpt-3.5-turbo-0125';
}

function wildchatRows(rng: Rng, convs: Conv[], users: User[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let t = Date.UTC(2023, 3, 10, 6, 0, 0);
  let turnId = 500_000;
  for (const [row, c] of convs.entries()) {
    // Rows start at least an hour apart; a conversation spans well under an hour.
    t += rng.int(3_600, 60 * 3_600) * 1000;
    const user = users[c.user]!;
    let clock = t;
    let last = t;
    let prevRole: Role | undefined;
    const conversation = c.messages.map((m) => {
      if (!(m.role === 'assistant' && prevRole === 'user')) turnId++;
      prevRole = m.role;
      const base = { content: m.content, language: c.language, redacted: m.redacted ?? false, role: m.role, toxic: m.toxic ?? false, turn_identifier: turnId };
      if (m.role === 'user') {
        clock += rng.int(15, 150) * 1000;
        return { ...base, country: user.country, hashed_ip: user.hashedIp, header: user.header, state: user.state, timestamp: null };
      }
      clock += rng.int(4, 40) * 1000;
      last = clock;
      return { ...base, country: null, hashed_ip: null, header: null, state: null, timestamp: tsz(clock) };
    });
    t = Math.max(t, last);
    out.push({
      row,
      conversation_hash: md5(`${row}\u0000${c.messages.map((m) => `${m.role}:${m.content}`).join('\u0000')}`),
      model: modelAt(rng, last),
      timestamp: tsz(last),
      conversation,
      turn: c.messages.filter((m) => m.role === 'user').length,
      language: c.language,
      toxic: c.messages.some((m) => m.toxic === true),
      redacted: c.messages.some((m) => m.redacted === true),
      state: user.state,
      country: user.country,
      hashed_ip: user.hashedIp,
      header: user.header,
    });
  }
  return out;
}

const HEADER_TYPE = 'STRUCT("accept-language" VARCHAR, "user-agent" VARCHAR)';
const CONVERSATION_TYPE =
  `STRUCT(content VARCHAR, country VARCHAR, hashed_ip VARCHAR, header ${HEADER_TYPE}, language VARCHAR, redacted BOOLEAN, ` +
  'role VARCHAR, state VARCHAR, timestamp TIMESTAMPTZ, toxic BOOLEAN, turn_identifier BIGINT)[]';

const sqlStr = (s: string) => `'${s.replaceAll("'", "''")}'`;

async function writeParquet(rows: Record<string, unknown>[], outFile: string): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'userlm-sample-'));
  const ndjson = join(scratch, 'wildchat.ndjson');
  const tmpOut = `${outFile}.tmp`;
  try {
    writeFileSync(ndjson, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const inst = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', threads: '1' });
    const c = await inst.connect();
    try {
      const columns = {
        row: 'BIGINT',
        conversation_hash: 'VARCHAR',
        model: 'VARCHAR',
        timestamp: 'TIMESTAMPTZ',
        conversation: CONVERSATION_TYPE,
        turn: 'BIGINT',
        language: 'VARCHAR',
        toxic: 'BOOLEAN',
        redacted: 'BOOLEAN',
        state: 'VARCHAR',
        country: 'VARCHAR',
        hashed_ip: 'VARCHAR',
        header: HEADER_TYPE,
      };
      const spec = Object.entries(columns)
        .map(([k, v]) => `"${k}": ${sqlStr(v)}`)
        .join(', ');
      await c.run(`CREATE TABLE wildchat AS SELECT * FROM read_json(${sqlStr(ndjson)}, format = 'newline_delimited', columns = {${spec}})`);
      await c.run(
        `COPY (SELECT * EXCLUDE ("row") FROM wildchat ORDER BY "row") TO ${sqlStr(tmpOut)} (FORMAT parquet, COMPRESSION zstd)`,
      );
    } finally {
      c.closeSync();
      inst.closeSync();
    }
    renameSync(tmpOut, outFile);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(tmpOut, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// PRISM

type PrismType = 'unguided' | 'values guided' | 'controversy guided';
type PrismSpecial = 'empty_chosen_answer' | 'empty_user_turn' | 'no_choice_turn1' | 'no_choice_turn0' | 'two_chosen_turn0';

interface PrismSpec {
  type: PrismType;
  prompts: string[];
  /** Points a model answer can make about the topic. */
  angles: string[];
  special?: PrismSpecial;
}

const PRISM: PrismSpec[] = [
  {
    type: 'unguided',
    prompts: ["I'm thinking about learning the piano at 35. Is it too late?", 'How many minutes a day should I practise?', 'Should I get a teacher or use an app?'],
    angles: [
      'It is not too late: adults often progress quickly because they practise with more focus and patience.',
      'Short daily sessions of fifteen to thirty minutes tend to work better than one long session a week.',
      'Choosing pieces you genuinely enjoy is one of the most reliable ways to stay motivated.',
    ],
  },
  {
    type: 'unguided',
    prompts: ["What's a good way to stay productive when working from home?", "I live in a small flat, so I don't have a separate office."],
    angles: [
      'A fixed start and end time helps your brain separate work from the rest of the day.',
      'Even a small corner that you only use for work can act as a mental "office".',
      'Short breaks away from the screen, such as a walk, keep your energy steady through the afternoon.',
    ],
  },
  {
    type: 'unguided',
    prompts: ['Can you suggest a simple dinner I can cook with chickpeas, spinach and rice?'],
    angles: [
      'A quick chickpea and spinach curry served over rice takes about twenty-five minutes.',
      'Fry an onion with garlic and cumin, add the chickpeas and a tin of tomatoes, then stir in the spinach at the end.',
      'A squeeze of lemon and a spoon of yoghurt on top make it taste fresher.',
    ],
  },
  {
    type: 'unguided',
    prompts: ['Help me write a short message to thank my neighbour for looking after my dog.', 'Make it a bit funnier.'],
    angles: [
      'A short, warm note that mentions something specific, such as the long walks, feels personal.',
      'Offering a small favour in return, like baking something, is a nice touch.',
      'A light joke about the dog missing them more than you is a friendly way to end.',
    ],
  },
  {
    type: 'unguided',
    prompts: ['What are some tips for a first-time visitor to Japan?', 'What about etiquette on trains?', 'Is it easy to get around without speaking Japanese?'],
    angles: [
      'A rail pass or a rechargeable transport card makes getting around much simpler.',
      'Quiet behaviour on public transport is expected, so phone calls are best avoided.',
      'Signs in big cities are usually in English as well, and a translation app covers most other situations.',
    ],
  },
  {
    type: 'unguided',
    prompts: ['How do I politely decline a wedding invitation from a colleague?'],
    angles: [
      'Reply early, thank them sincerely, and keep the reason brief; you do not owe a detailed explanation.',
      'Sending a card or a small gift shows that you care even if you cannot attend.',
      'Congratulating them in person at work the following week is a kind gesture.',
    ],
  },
  {
    type: 'unguided',
    prompts: ['Explain how compound interest works with a simple example.', 'What happens if I add money every month?'],
    angles: [
      'Compound interest means you earn interest on your interest, so savings grow faster over time.',
      'For example, 1,000 at 5% a year becomes 1,050 after one year and about 1,276 after five.',
      'Regular monthly contributions add up surprisingly quickly because each one starts compounding as well.',
    ],
    special: 'no_choice_turn1',
  },
  {
    type: 'unguided',
    prompts: ["I keep waking up at 4am and can't fall back asleep. Any advice?", 'I already avoid coffee after lunch.'],
    angles: [
      'Keeping the same wake-up time every day, even at weekends, helps reset your body clock.',
      'If you are awake for more than twenty minutes, getting up and doing something calm in dim light can help.',
      'If it continues for weeks, it is worth talking to a doctor, since stress and other conditions can play a role.',
    ],
  },
  {
    type: 'unguided',
    prompts: ['What should I consider before adopting a cat?'],
    angles: [
      'Cats can live fifteen years or more, so think about the long-term commitment.',
      'Budget for food, litter, vaccinations and unexpected vet bills.',
      'An adult cat from a shelter often has a known personality, which makes it easier to find a good match.',
    ],
  },
  {
    type: 'values guided',
    prompts: ['How do I balance caring for my elderly parents with my own career?', 'My siblings live far away and cannot help much.', 'Is it selfish to consider a care home?'],
    angles: [
      'Many people in your position feel pulled in two directions, and it is okay to set limits.',
      'Talking openly with your employer about flexible hours can make a big difference.',
      'Local support services and respite care can share some of the load so you do not burn out.',
    ],
    special: 'empty_user_turn',
  },
  {
    type: 'values guided',
    prompts: ["Is it wrong to tell a white lie to protect a friend's feelings?", 'What if the friend asks me directly for my honest opinion?'],
    angles: [
      'Many people see small white lies as acceptable when they spare someone pain and cause no harm.',
      'Others value honesty highly and believe trust depends on it, even in small things.',
      'Often you can be honest and kind at the same time by focusing on what you genuinely like.',
    ],
  },
  {
    type: 'values guided',
    prompts: ['What matters more when choosing a job: the salary or the people you work with?'],
    angles: [
      'A good salary brings security, which matters a lot if you support a family or have debts.',
      'Colleagues and managers shape your daily experience, and a difficult team can outweigh higher pay.',
      'It can help to decide the minimum salary you need and then choose based on the people above that line.',
    ],
    special: 'two_chosen_turn0',
  },
  {
    type: 'values guided',
    prompts: ['My teenage son spends hours online every day. How much should I limit his screen time?', 'He says all his friends are online, so limiting it would isolate him.'],
    angles: [
      'What he does online matters as much as how long: chatting with friends is different from endless scrolling.',
      'Agreeing on rules together, such as no phones at dinner, tends to work better than strict limits imposed from above.',
      'Making sure he still sleeps enough and gets some exercise is a good baseline.',
    ],
  },
  {
    type: 'values guided',
    prompts: ['How can I live more sustainably without spending a lot of money?', 'Which of these has the biggest impact?'],
    angles: [
      'Eating less meat and wasting less food are among the cheapest high-impact changes.',
      'Repairing and buying second-hand usually saves money as well as resources.',
      'For many households, the biggest single factor is how they travel, especially flights.',
    ],
  },
  {
    type: 'values guided',
    prompts: ["Should I lend money to a family member who hasn't paid me back before?"],
    angles: [
      'A common rule is to lend only what you could afford to lose without resenting it.',
      'You might offer help in another form, such as paying a specific bill directly.',
      'Being clear and kind about your decision protects the relationship more than a loan you regret.',
    ],
  },
  {
    type: 'values guided',
    prompts: ['How important is religion in raising children with good values?'],
    angles: [
      'Many families raise kind, responsible children with religion, and many do so without it.',
      'Shared values such as honesty, compassion and respect can be taught in either setting.',
      'Talking as a couple about which values you both want to pass on is a good starting point.',
    ],
    special: 'no_choice_turn0',
  },
  {
    type: 'values guided',
    prompts: ['What does it mean to be a good neighbour in a city where nobody knows each other?'],
    angles: [
      'Small gestures, like saying hello or holding a parcel, build trust over time.',
      'Being considerate about noise and shared spaces is a quiet form of respect.',
      'Joining a local group or a shared garden can turn strangers into a community.',
    ],
  },
  {
    type: 'controversy guided',
    prompts: ['What are the arguments for and against a four-day work week?', 'Which industries would struggle the most?'],
    angles: [
      'Supporters point to trials where productivity held steady and staff were less stressed.',
      'Critics worry about costs for small businesses and services that must be available every day.',
      'Sectors such as healthcare and retail would need extra staff or rotating schedules.',
    ],
    special: 'empty_chosen_answer',
  },
  {
    type: 'controversy guided',
    prompts: ['Should governments regulate artificial intelligence more strictly?', 'Who should decide what counts as high risk?', "Wouldn't that slow down innovation?"],
    angles: [
      'Supporters of regulation stress safety, accountability and protection against misuse.',
      'Opponents fear that heavy rules could favour large companies and slow down useful research.',
      'Many proposals try to scale the rules to the risk of each application rather than regulate everything equally.',
    ],
  },
  {
    type: 'controversy guided',
    prompts: ['Is nuclear power a good solution to climate change?', 'What about the waste?'],
    angles: [
      'Nuclear plants produce very little carbon dioxide while running and provide steady power.',
      'They are expensive and slow to build, and public concern about accidents remains.',
      'Long-term storage of waste is a real challenge, although the volumes are relatively small.',
    ],
  },
  {
    type: 'controversy guided',
    prompts: ['Should university education be free for everyone?'],
    angles: [
      'Supporters argue that free tuition widens access and benefits society as a whole.',
      'Opponents say it is costly for taxpayers and may mostly help families who could already pay.',
      'Some countries choose a middle path with income-based repayment or targeted grants.',
    ],
  },
  {
    type: 'controversy guided',
    prompts: ['What do you think about banning phones in schools?', 'What if parents need to reach their children in an emergency?'],
    angles: [
      'Supporters say bans reduce distraction and bullying and encourage children to talk to each other.',
      'Critics argue that phones can be learning tools and that children need to learn self-control.',
      'Many schools let pupils keep phones in lockers and allow parents to call the school office.',
    ],
  },
  {
    type: 'controversy guided',
    prompts: ['Is it fair for cities to charge drivers a fee to enter the centre?'],
    angles: [
      'Such fees can cut traffic and pollution and raise money for public transport.',
      'They can weigh more heavily on people with lower incomes who depend on their car.',
      'Exemptions and better bus and rail links can make the scheme fairer.',
    ],
  },
  {
    type: 'controversy guided',
    prompts: ['Should voting be mandatory?', 'Would people just vote randomly?'],
    angles: [
      'Compulsory voting raises turnout and can make results more representative.',
      'Some see it as a restriction of freedom, since not voting can also be a choice.',
      'Allowing a "none of the above" option is one way to respect people who do not want to pick a candidate.',
    ],
  },
  {
    type: 'controversy guided',
    prompts: ['Are zoos ethical?', 'What about zoos that run breeding programmes for endangered species?'],
    angles: [
      'Modern zoos can support conservation, research and education.',
      'Critics argue that keeping wild animals in enclosures harms their wellbeing, especially for wide-ranging species.',
      'Standards vary greatly, so the answer often depends on the particular zoo.',
    ],
  },
];

const PRISM_MODELS: [string, string][] = [
  ['openai', 'gpt-4'],
  ['openai', 'gpt-3.5-turbo'],
  ['anthropic', 'claude-2'],
  ['anthropic', 'claude-instant-1'],
  ['meta', 'llama-2-70b-chat'],
  ['cohere', 'command'],
  ['mistralai', 'mistral-7b-instruct'],
];

const PRISM_OPENERS = [
  'There are a few things worth considering here.',
  "That's a thoughtful question.",
  'I can offer some perspectives on this.',
  "Great question! I'm happy to help.",
  'Here is a brief overview.',
  'As an AI, I do not have personal opinions, but I can share some considerations.',
  'This is a common dilemma.',
];
const PRISM_FOLLOW_OPENERS = ['Good follow-up.', 'That is an important point.', 'It depends on the details, but here is how I would think about it.', 'Understood.', 'Fair question.'];
const PRISM_CLOSERS = [
  'Ultimately, the right choice depends on your circumstances.',
  'I hope this helps you think it through.',
  'Different people weigh these factors differently, and that is okay.',
  '',
];
const PRISM_FEEDBACK = [
  'The chosen model gave a balanced answer and did not lecture me.',
  'Some answers were far too long. I preferred the one that got to the point.',
  'I liked that the answers acknowledged different views.',
  'The models were polite but a bit generic.',
  'One answer refused to engage, which was frustrating.',
  'Helpful overall, the best answer felt like talking to a thoughtful friend.',
  'I wanted more concrete examples.',
];
const PRISM_EMPTY = 'EMPTY STRING';

const PRISM_ATTRS = ['values', 'fluency', 'factuality', 'safety', 'diversity', 'creativity', 'helpfulness'];

function prismLines(rng: Rng): string[] {
  const lines: string[] = [];
  let t = Date.UTC(2023, 10, 22, 9, 14, 5);
  let userIdx = 0;
  let prevUser = 'user0';
  for (const [ci, spec] of PRISM.entries()) {
    // About a third of participants come back for another conversation.
    const user = ci > 0 && rng.chance(0.3) ? prevUser : `user${userIdx++}`;
    prevUser = user;
    t += rng.int(600, 36 * 3600) * 1000;
    const history: Record<string, unknown>[] = [];
    let chosenModel: [string, string] | undefined;
    for (const [turn, prompt] of spec.prompts.entries()) {
      const userContent = spec.special === 'empty_user_turn' && turn === 1 ? PRISM_EMPTY : prompt;
      history.push({ turn, role: 'user', content: userContent });
      const n = turn === 0 ? 4 : 2;
      const models = turn === 0 ? rng.sample(PRISM_MODELS, 4) : [chosenModel!, chosenModel!];
      const answers = new Set<string>();
      const items: Record<string, unknown>[] = [];
      for (let w = 0; w < n; w++) {
        let text = '';
        for (let tries = 0; tries < 50 && (text === '' || answers.has(text)); tries++) {
          const opener = rng.pick(turn === 0 ? PRISM_OPENERS : PRISM_FOLLOW_OPENERS);
          const points = rng.sample(spec.angles, rng.int(1, 2));
          text = joinParts([opener, ...points, rng.pick(PRISM_CLOSERS)]);
        }
        answers.add(text);
        const [provider, name] = models[w]!;
        items.push({ turn, role: 'model', content: text, model_provider: provider, model_name: name, score: rng.int(1, 100), if_chosen: false, within_turn_id: w });
      }
      const byScore = [...items].sort((x, y) => (y['score'] as number) - (x['score'] as number) || (x['within_turn_id'] as number) - (y['within_turn_id'] as number));
      const noChoice = (spec.special === 'no_choice_turn0' && turn === 0) || (spec.special === 'no_choice_turn1' && turn === 1);
      if (!noChoice) byScore[0]!['if_chosen'] = true;
      if (spec.special === 'two_chosen_turn0' && turn === 0) byScore[1]!['if_chosen'] = true;
      if (spec.special === 'empty_chosen_answer' && turn === 1) byScore[0]!['content'] = PRISM_EMPTY;
      if (turn === 0) {
        const m = PRISM_MODELS.find(([p, nm]) => p === byScore[0]!['model_provider'] && nm === byScore[0]!['model_name']);
        chosenModel = m;
      }
      history.push(...items);
    }
    const attrs = () => (rng.chance(0.85) ? Object.fromEntries(PRISM_ATTRS.map((k) => [k, rng.int(1, 100)])) : null);
    const rec = {
      conversation_id: `c${ci}`,
      user_id: user,
      included_in_balanced_subset: rng.chance(0.4),
      generated_datetime: new Date(t).toISOString().slice(0, 19).replace('T', ' ') + '.000000',
      timing_duration_s: Math.round(rng.int(600, 9000)) / 10,
      conversation_type: spec.type,
      opening_prompt: spec.prompts[0]!,
      conversation_turns: spec.prompts.length,
      conversation_history: history,
      performance_attributes: attrs(),
      choice_attributes: attrs(),
      open_feedback: rng.pick(PRISM_FEEDBACK),
    };
    lines.push(JSON.stringify(rec));
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------

async function main(outDir: string): Promise<void> {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });

  // Separate streams, so editing one sample leaves the other unchanged.
  const wrng = new Rng(SEED);
  const { convs, users } = buildWildchat(wrng);
  const rows = wildchatRows(wrng, convs, users);
  await writeParquet(rows, join(dir, 'wildchat-sample.parquet'));

  const prism = prismLines(new Rng(SEED + 1));
  writeFileSync(join(dir, 'prism-conversations.jsonl'), prism.join('\n') + '\n');

  const byCat = new Map<string, number>();
  for (const c of convs) byCat.set(c.category, (byCat.get(c.category) ?? 0) + 1);
  const summary = [...byCat.entries()].map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`wrote ${rows.length} WildChat rows (${summary}) and ${prism.length} PRISM conversations to ${dir}\n`);
}

main(process.argv[2] ?? 'datasets/sample').catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
