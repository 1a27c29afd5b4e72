import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { linearizePrism } from '../../src/sources/linearize-prism.js';

const user = (turn: number, content: string) => ({ turn, role: 'user', content });
const model = (turn: number, content: string, chosen: boolean, within_turn_id = 0) => ({
  turn, role: 'model', content, if_chosen: chosen, within_turn_id, model_provider: 'x', model_name: 'y', score: 50,
});

describe('linearizePrism', () => {
  it('follows the chosen answer per turn and maps model to assistant', () => {
    const r = linearizePrism([
      user(0, 'hi'), model(0, 'a0', false, 0), model(0, 'b0', true, 1), model(0, 'c0', false, 2), model(0, 'd0', false, 3),
      user(1, 'more'), model(1, 'a1', true, 0), model(1, 'b1', false, 1),
    ]);
    assert.deepEqual(r, {
      messages: [
        { role: 'user', content: 'hi' }, { role: 'assistant', content: 'b0' },
        { role: 'user', content: 'more' }, { role: 'assistant', content: 'a1' },
      ],
      repairs: [],
    });
  });

  it('turns the EMPTY STRING placeholder into an empty text', () => {
    const r = linearizePrism([user(0, 'EMPTY STRING'), model(0, 'EMPTY STRING', true)]);
    assert.deepEqual(r.messages, [{ role: 'user', content: '' }, { role: 'assistant', content: '' }]);
  });

  it('truncates before a later turn with no chosen answer, and drops when turn 0 has none', () => {
    const r = linearizePrism([user(0, 'q'), model(0, 'a', true), user(1, 'q2'), model(1, 'x', false), model(1, 'y', false)]);
    assert.deepEqual(r.messages, [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }]);
    assert.deepEqual(r.repairs, ['missing_choice_truncated']);
    const d = linearizePrism([user(0, 'q'), model(0, 'a', false), model(0, 'b', false)]);
    assert.equal(d.dropReason, 'prism_no_chosen_answer');
    assert.deepEqual(d.messages, []);
  });

  it('picks the lowest within_turn_id when several answers are chosen, and records it', () => {
    const r = linearizePrism([user(0, 'q'), model(0, 'late', true, 3), model(0, 'early', true, 1)]);
    assert.equal(r.messages[1]!.content, 'early');
    assert.deepEqual(r.repairs, ['multiple_chosen']);
  });

  it('orders by turn whatever the item order, and stops at a gap in turns', () => {
    const r = linearizePrism([model(1, 'a1', true), user(1, 'u1'), model(0, 'a0', true), user(0, 'u0'), user(3, 'u3'), model(3, 'a3', true)]);
    assert.deepEqual(r.messages.map((m) => m.content), ['u0', 'a0', 'u1', 'a1']);
    assert.deepEqual(r.repairs, ['missing_choice_truncated']);
  });

  it('drops a conversation without history', () => {
    assert.equal(linearizePrism([]).dropReason, 'prism_no_history');
    assert.equal(linearizePrism(undefined).dropReason, 'prism_no_history');
  });
});
