-- The queue workflow's bulk monitor records when it last got a conclusive answer from the batch
-- system; worker lifecycles read it to notice a monitor that went silent (status unknown > checkTimeout).
ALTER TABLE queues ADD COLUMN monitor_last_ok_at timestamptz;
ALTER TABLE queues ADD COLUMN monitor_failures integer NOT NULL DEFAULT 0;
