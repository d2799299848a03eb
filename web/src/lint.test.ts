// The feature boundary is enforced by ESLint; this proves the rule fires on a real violation.
import { ESLint } from 'eslint';

const root = `${process.cwd()}/`;

async function lint(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: `${root}${file}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('import boundaries', () => {
  it('stops a feature importing another feature', async () => {
    const messages = await lint('src/features/herd/Bad.ts', "import { RANGES } from '../cow/CowPage';\nexport const x = RANGES;\n");
    expect(messages.some((m) => m.startsWith('import-x/no-restricted-paths') && m.includes('another feature'))).toBe(true);
  }, 30_000);

  it('stops shared components importing a feature', async () => {
    const messages = await lint('src/components/Bad.ts', "import { useAlerts } from '../features/alerts/queries';\nexport const x = useAlerts;\n");
    expect(messages.some((m) => m.includes('Shared code must not depend on a feature'))).toBe(true);
  }, 30_000);

  it('lets a feature use shared code', async () => {
    const messages = await lint('src/features/herd/Good.ts', "import { formatRisk } from '../../lib/numbers';\nexport const x = formatRisk;\n");
    expect(messages).toEqual([]);
  }, 30_000);
});
