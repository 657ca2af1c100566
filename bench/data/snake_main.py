import random
import sys

import pygame

SCREEN_WIDTH = 640
SCREEN_HEIGHT = 480
CELL_SIZE = 20
FPS = 10

BLACK = (0, 0, 0)
GREEN = (0, 200, 0)
RED = (200, 0, 0)
WHITE = (255, 255, 255)

UP = (0, -1)
DOWN = (0, 1)
LEFT = (-1, 0)
RIGHT = (1, 0)


class Snake:
    """The snake: a list of cells, head first, moving one cell a tick."""

    def __init__(self):
        x = SCREEN_WIDTH // CELL_SIZE // 2
        y = SCREEN_HEIGHT // CELL_SIZE // 2
        self.body = [(x, y), (x - 1, y), (x - 2, y)]
        self.direction = RIGHT
        self.grow = False

    def head(self):
        return self.body[0]

    def turn(self, direction):
        # the snake cannot turn back onto itself
        if (direction[0] * -1, direction[1] * -1) != self.direction:
            self.direction = direction

    def move(self):
        x, y = self.head()
        dx, dy = self.direction
        new_head = (x + dx, y + dy)
        self.body.insert(0, new_head)
        if self.grow:
            self.grow = False
        else:
            self.body.pop()

    def hits_itself(self):
        return self.head() in self.body[1:]

    def hits_wall(self):
        x, y = self.head()
        return x < 0 or y < 0 or x >= SCREEN_WIDTH // CELL_SIZE or y >= SCREEN_HEIGHT // CELL_SIZE

    def draw(self, screen):
        for x, y in self.body:
            rect = pygame.Rect(x * CELL_SIZE, y * CELL_SIZE, CELL_SIZE, CELL_SIZE)
            pygame.draw.rect(screen, GREEN, rect)


class Food:
    """One piece of food on a free cell."""

    def __init__(self, snake):
        self.position = self.random_cell(snake)

    def random_cell(self, snake):
        while True:
            cell = (random.randrange(SCREEN_WIDTH // CELL_SIZE), random.randrange(SCREEN_HEIGHT // CELL_SIZE))
            if cell not in snake.body:
                return cell

    def draw(self, screen):
        x, y = self.position
        rect = pygame.Rect(x * CELL_SIZE, y * CELL_SIZE, CELL_SIZE, CELL_SIZE)
        pygame.draw.rect(screen, RED, rect)


class Game:
    """The game loop: keys, moves, collisions, score."""

    def __init__(self):
        self.screen = pygame.display.set_mode((SCREEN_WIDTH, SCREEN_HEIGHT))
        pygame.display.set_caption("Snake")
        self.clock = pygame.time.Clock()
        self.font = pygame.font.SysFont(None, 32)
        self.snake = Snake()
        self.food = Food(self.snake)
        self.score = 0
        self.over = False

    def handle_events(self):
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                pygame.quit()
                sys.exit()
            if event.type == pygame.KEYDOWN:
                if event.key == pygame.K_UP:
                    self.snake.turn(UP)
                elif event.key == pygame.K_DOWN:
                    self.snake.turn(DOWN)
                elif event.key == pygame.K_LEFT:
                    self.snake.turn(LEFT)
                elif event.key == pygame.K_RIGHT:
                    self.snake.turn(RIGHT)

    def update(self):
        self.snake.move()
        if self.snake.hits_wall() or self.snake.hits_itself():
            self.over = True
        if self.snake.head() == self.food.position:
            self.snake.grow = True
            self.score += 1
            self.food = Food(self.snake)

    def draw(self):
        self.screen.fill(BLACK)
        self.snake.draw(self.screen)
        self.food.draw(self.screen)
        text = self.font.render(f"Score: {self.score}", True, WHITE)
        self.screen.blit(text, (10, 10))
        pygame.display.flip()

    def run(self):
        while not self.over:
            self.handle_events()
            self.update()
            self.draw()
            self.clock.tick(FPS)
        pygame.quit()


if __name__ == "__main__":
    Game().run()
