import { render, screen } from '@testing-library/react';

import { ApiError } from '../api/errors';
import { ErrorState } from './StateViews';

describe('error state', () => {
  it('says the server is unreachable and offers a retry', () => {
    render(<ErrorState error={new ApiError(0, 'unreachable', 'x')} onRetry={() => undefined} />);
    expect(screen.getByRole('alert')).toHaveTextContent('The server cannot be reached');
    expect(screen.getByRole('button', { name: 'Try again' })).toBeInTheDocument();
  });

  it('says not found without a pointless retry, never leaking whose farm it is', () => {
    render(<ErrorState error={new ApiError(404, 'not_found', 'cow 5000 not found')} onRetry={() => undefined} />);
    expect(screen.getByRole('alert')).toHaveTextContent('Not found');
    expect(screen.queryByRole('button')).not.toBeInTheDocument();
  });

  it('shows the API’s own message for other errors', () => {
    render(<ErrorState error={new ApiError(409, 'last_owner', 'A farm needs at least one owner')} />);
    expect(screen.getByRole('alert')).toHaveTextContent('A farm needs at least one owner');
  });
});
