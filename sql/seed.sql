-- The seeds' mock users and activity. Fixed keys and ON CONFLICT make a second run add nothing.
INSERT INTO public.users (uuid, display_name, handle, email, cognito_user_id)
VALUES
  ('8a5b6a53-7f1f-4d0c-9d6e-1c1c1f3a0001', 'Andrew Brown', 'andrewbrown', 'andrew@example.com', 'MOCK-andrewbrown'),
  ('8a5b6a53-7f1f-4d0c-9d6e-1c1c1f3a0002', 'Andrew Bayko', 'bayko', 'bayko@example.com', 'MOCK-bayko')
ON CONFLICT DO NOTHING;

INSERT INTO public.activities (uuid, user_uuid, message, expires_at)
SELECT '3c1e2a7b-5d4f-4e6a-8b9c-0d1e2f3a0001', users.uuid, 'This was imported as seed data!', now() + interval '10 day'
FROM public.users
WHERE users.cognito_user_id = 'MOCK-andrewbrown'
ON CONFLICT DO NOTHING;
