import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, useLocation } from 'react-router';

import { useSearchState } from './searchState';

function Filters() {
  const [params, update] = useSearchState();
  const location = useLocation();
  return (
    <>
      <input aria-label="q" value={params.get('q') ?? ''} onChange={(e) => update({ q: e.target.value })} />
      <input
        type="checkbox"
        aria-label="risk"
        checked={params.get('at_risk') === '1'}
        onChange={(e) => update({ at_risk: e.target.checked ? '1' : null })}
      />
      <output data-testid="url">{location.search}</output>
    </>
  );
}

describe('filters kept in the URL', () => {
  it('follows fast typing and clicks at once, and ends with the URL saying the same', async () => {
    render(
      <MemoryRouter initialEntries={['/cows?page=3']}>
        <Filters />
      </MemoryRouter>,
    );
    const user = userEvent.setup({ delay: null });
    await user.type(screen.getByLabelText('q'), '1042');
    expect(screen.getByLabelText('q')).toHaveValue('1042');
    await user.click(screen.getByLabelText('risk'));
    expect(screen.getByLabelText('risk')).toBeChecked();
    await user.click(screen.getByLabelText('risk'));
    expect(screen.getByLabelText('risk')).not.toBeChecked();
    expect(await screen.findByText('?q=1042')).toBeInTheDocument(); // page reset, at_risk gone
  });
});
