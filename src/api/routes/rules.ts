/** Rules CRUD (docs/rules.md): bodies checked for shape, then for meaning (devices, quantities, topics). */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ApiContext } from '../context.js';
import { HttpError, notFound } from '../errors.js';
import { ErrorResponse } from '../schemas.js';
import { RuleInput, RuleParams, RuleView } from '../../contracts/rules.js';
import type { StoredRule } from '../../gateway/stored-rule.js';
import { ruleView, shapeProblem } from '../../gateway/rules-validate.js';

export const ruleRoutes: FastifyPluginAsyncTypebox<{ ctx: ApiContext }> = async (app, { ctx }) => {
  const view = (rule: StoredRule) => ruleView(rule, ctx.registry);
  const found = (id: number, rule: StoredRule | undefined): StoredRule => {
    if (!rule) throw notFound(`no rule ${id} (GET /api/rules lists them)`);
    return rule;
  };
  /** The schema's own messages name a union as a whole; ours name the field and what it takes. */
  const body = (request: { validationError?: Error; body: unknown }): RuleInput => {
    if (request.validationError) throw new HttpError(400, shapeProblem(request.body) ?? request.validationError.message);
    return request.body as RuleInput;
  };

  app.get(
    '/api/rules',
    { schema: { tags: ['rules'], summary: 'All rules, in evaluation order', response: { 200: Type.Array(RuleView) } } },
    async () => ctx.rules.list().map(view),
  );

  app.post(
    '/api/rules',
    {
      attachValidation: true,
      schema: {
        tags: ['rules'],
        summary: 'Add a rule (last unless position is given)',
        body: RuleInput,
        response: { 201: RuleView, 400: ErrorResponse },
      },
    },
    async (request, reply) => {
      const input = body(request);
      return reply.status(201).send(view(ctx.rules.create(input)));
    },
  );

  app.get(
    '/api/rules/:id',
    { schema: { tags: ['rules'], summary: 'One rule', params: RuleParams, response: { 200: RuleView, 404: ErrorResponse } } },
    async (request) => view(found(request.params.id, ctx.rules.get(request.params.id))),
  );

  app.put(
    '/api/rules/:id',
    {
      attachValidation: true,
      schema: {
        tags: ['rules'],
        summary: 'Replace a rule; omitted enabled/position keep their values',
        params: RuleParams,
        body: RuleInput,
        response: { 200: RuleView, 400: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request) => {
      if (request.validationError?.validationContext === 'params')
        throw new HttpError(400, 'params.id: must be a rule id (an integer from 1)');
      const input = body(request);
      if (input.id !== undefined && input.id !== request.params.id)
        throw new HttpError(400, `body.id: ${input.id} does not match the rule ${request.params.id} in the URL`);
      return view(found(request.params.id, ctx.rules.update(request.params.id, input)));
    },
  );

  app.delete(
    '/api/rules/:id',
    { schema: { tags: ['rules'], summary: 'Delete a rule', params: RuleParams, response: { 204: Type.Null(), 404: ErrorResponse } } },
    async (request, reply) => {
      if (!ctx.rules.remove(request.params.id)) throw notFound(`no rule ${request.params.id} (GET /api/rules lists them)`);
      return reply.status(204).send();
    },
  );
};
